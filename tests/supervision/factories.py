"""Factories for the supervision models and the reviewer marks they report on."""

import factory
from django.utils import timezone

from cases.models import DetectorVerdict
from supervision.models import GoldenCase, QAKind, QASample, QASamplingRule
from tests.factories import DecisionFactory, SignalFactory, supervisor


class DetectorVerdictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DetectorVerdict

    decision = factory.SubFactory(DecisionFactory)
    signal = factory.SubFactory(SignalFactory, detector=True, account=factory.SelfAttribute("..decision.case.account"))
    detector_name = factory.LazyAttribute(lambda v: v.signal.detector_name)
    detector_version = factory.LazyAttribute(lambda v: v.signal.detector_version)
    was_correct = True


class QASamplingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QASamplingRule

    share_percent = 100


class QASampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QASample

    kind = QAKind.SAMPLED
    decision = factory.SubFactory(DecisionFactory)
    case = factory.LazyAttribute(lambda s: s.decision.case)
    original_reviewer = factory.LazyAttribute(lambda s: s.decision.decided_by)
    created_at = factory.LazyFunction(timezone.now)


class GoldenCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GoldenCase

    case = factory.LazyAttribute(lambda g: DecisionFactory().case)
    expected_is_violation = True
    expected_policy = factory.LazyAttribute(lambda g: g.case.policy)
    expected_outcomes = factory.LazyAttribute(lambda g: list(g.expected_policy.default_outcomes))
    created_by = factory.LazyFunction(supervisor)

"""Factories for the whole suite. Apps built on the core add theirs below, in the
order of the apps (moderation → cases → appeals → supervision)."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from moderation.models import Account, Follow, PartnerStatus, Policy, Story, StoryKind
from moderation.roles import Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@backoffice.example")
    first_name = factory.Faker("first_name")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=extracted))
        if create:
            self.save()


def staff(role: str, **kwargs):
    return UserFactory(roles=[role], **kwargs)


def moderator(**kwargs):
    return staff(Role.MODERATOR, **kwargs)


def senior_moderator(**kwargs):
    return staff(Role.SENIOR_MODERATOR, **kwargs)


def appeals_reviewer(**kwargs):
    return staff(Role.APPEALS_REVIEWER, **kwargs)


def supervisor(**kwargs):
    return staff(Role.SUPERVISOR, **kwargs)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    platform_id = factory.Sequence(lambda n: f"acct{n:06d}")
    handle = factory.Sequence(lambda n: f"writer{n}")
    display_name = factory.Faker("name")
    email = factory.LazyAttribute(lambda a: f"{a.handle}@example.com")
    joined_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=400))

    class Params:
        partner = factory.Trait(
            partner_status=PartnerStatus.ACTIVE,
            partner_enrolled_at=factory.LazyFunction(lambda: timezone.now() - timedelta(days=100)),
        )


class StoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Story

    platform_id = factory.Sequence(lambda n: f"story{n:06d}")
    author = factory.SubFactory(AccountFactory)
    kind = StoryKind.STORY
    title = factory.Sequence(lambda n: f"A story worth reading, part {n}")
    url = factory.LazyAttribute(lambda s: f"https://platform.example/p/{s.platform_id}")
    body = "First paragraph.\n\nSecond paragraph.\n\nThird paragraph."
    published_at = factory.LazyFunction(timezone.now)


class FollowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Follow

    follower = factory.SubFactory(AccountFactory)
    followee = factory.SubFactory(AccountFactory)
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))


def policy(code: str) -> Policy:
    return Policy.objects.current().get(code=code)


# --- cases -----------------------------------------------------------------

from cases.models import (  # noqa: E402
    ActionStatus,
    Case,
    Decision,
    EnforcementAction,
    Queue,
    Signal,
)
from moderation.gate import protected_reasons  # noqa: E402
from moderation.models import SignalSource  # noqa: E402


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"queue-{n}")
    name = factory.LazyAttribute(lambda q: q.slug.replace("-", " ").title())
    sla_hours = 24
    allowed_roles = factory.LazyFunction(lambda: [Role.MODERATOR, Role.SENIOR_MODERATOR])


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    account = factory.SubFactory(AccountFactory)
    story = None
    policy_family = "ai"
    policy = factory.LazyAttribute(lambda c: Policy.objects.current().filter(family=c.policy_family).first())
    queue = factory.SubFactory(QueueFactory)
    opened_at = factory.LazyFunction(timezone.now)
    sla_due_at = factory.LazyAttribute(lambda c: c.opened_at + timedelta(hours=24))


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    idempotency_key = factory.Sequence(lambda n: f"sig-{n}")
    source = SignalSource.STAFF
    account = factory.SubFactory(AccountFactory)
    observed_at = factory.LazyFunction(timezone.now)

    class Params:
        detector = factory.Trait(
            source=SignalSource.DETECTOR,
            detector_name="ai-text-classifier",
            detector_version="2.3.0",
            score=0.93,
            policy=factory.LazyFunction(lambda: Policy.objects.current().get(code="ai.paywalled_generated")),
        )


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    case = factory.SubFactory(CaseFactory)
    decided_by = factory.LazyFunction(moderator)
    is_violation = True
    policy = factory.LazyAttribute(lambda d: d.case.policy)
    outcomes = factory.LazyAttribute(lambda d: list(d.policy.default_outcomes) if d.policy else [])
    rationale = "Internal: matches the detector and the reader reports."
    statement = "Your story was removed from the paywall because it is AI-generated."
    decided_at = factory.LazyFunction(timezone.now)
    # Derived as the services derive it (the database refuses anything else).
    needs_approval = factory.LazyAttribute(lambda d: bool(protected_reasons(d.case.account, d.outcomes)))


def _approver_if_needed(decision):
    return senior_moderator() if decision.needs_approval else None


class EnforcementActionFactory(factory.django.DjangoModelFactory):
    """An action as a decision left it: approved, ready for the outbox."""

    class Meta:
        model = EnforcementAction

    decision = factory.SubFactory(
        DecisionFactory,
        outcomes=factory.LazyAttribute(lambda d: [d.factory_parent.outcome]),
        approved_by=factory.LazyAttribute(_approver_if_needed),
        approved_at=factory.LazyAttribute(lambda d: d.decided_at if d.approved_by else None),
    )
    case = factory.LazyAttribute(lambda a: a.decision.case)
    account = factory.LazyAttribute(lambda a: a.case.account)
    story = factory.LazyAttribute(lambda a: a.case.story)
    outcome = "paywall.remove"
    status = ActionStatus.APPROVED

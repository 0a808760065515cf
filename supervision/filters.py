"""FilterSets for the audit log and the decision explorer (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef

from appeals.models import AppealStatus
from cases.models import Decision, EnforcementAction, Queue, Signal
from moderation.audit import VERBS
from moderation.models import AuditEvent, Outcome, Policy

DATE = forms.DateInput(attrs={"type": "date"})


def _staff(request=None):
    return get_user_model().objects.filter(is_staff=True).order_by("username")


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_label", lookup_expr="icontains", label="Actor")
    verb = django_filters.ChoiceFilter(choices=lambda: [(v, v) for v in sorted(VERBS)], label="Verb")
    target_type = django_filters.CharFilter(lookup_expr="iexact", label="Target type (e.g. cases.case)")
    target_id = django_filters.CharFilter(label="Target id")
    case_ref = django_filters.NumberFilter(label="Case #")
    appeal_ref = django_filters.NumberFilter(label="Appeal #")
    since = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__gte", label="From", widget=DATE)
    until = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__lte", label="To", widget=DATE)

    class Meta:
        model = AuditEvent
        fields: list[str] = []


APPEAL_CHOICES = [("none", "Not appealed"), ("any", "Appealed"), *AppealStatus.choices]


class DecisionFilter(django_filters.FilterSet):
    since = django_filters.DateFilter(field_name="decided_at", lookup_expr="date__gte", label="From", widget=DATE)
    until = django_filters.DateFilter(field_name="decided_at", lookup_expr="date__lte", label="To", widget=DATE)
    policy = django_filters.ChoiceFilter(
        field_name="policy__code",
        label="Policy",
        choices=lambda: [(c, c) for c in Policy.objects.order_by("code").values_list("code", flat=True).distinct()],
    )
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices, method="filter_outcome", label="Outcome")
    is_violation = django_filters.BooleanFilter(
        label="Violation", widget=forms.Select(choices=[("", "Any"), ("true", "Violation"), ("false", "No violation")])
    )
    reviewer = django_filters.ModelChoiceFilter(field_name="decided_by", queryset=_staff, label="Reviewer")
    approver = django_filters.ModelChoiceFilter(field_name="approved_by", queryset=_staff, label="Approver")
    queue = django_filters.ModelChoiceFilter(field_name="case__queue", queryset=Queue.objects.all(), label="Queue")
    automated = django_filters.BooleanFilter(
        field_name="case__automated_origin",
        label="Automated origin",
        widget=forms.Select(choices=[("", "Any"), ("true", "Opened by detectors"), ("false", "Human report")]),
    )
    detector = django_filters.CharFilter(method="filter_detector", label="Detector (name or name@version)")
    appeal = django_filters.ChoiceFilter(choices=APPEAL_CHOICES, method="filter_appeal", label="Appeal")

    class Meta:
        model = Decision
        fields: list[str] = []

    def filter_outcome(self, queryset, name, value):
        return queryset.filter(Exists(EnforcementAction.objects.filter(decision=OuterRef("pk"), outcome=value)))

    def filter_detector(self, queryset, name, value):
        detector_name, _, version = value.partition("@")
        signals = Signal.objects.filter(case=OuterRef("case"), detector_name=detector_name.strip())
        if version:
            signals = signals.filter(detector_version=version.strip())
        return queryset.filter(Exists(signals))

    def filter_appeal(self, queryset, name, value):
        if value == "none":
            return queryset.filter(appeal_status__isnull=True)
        if value == "any":
            return queryset.filter(appeal_status__isnull=False)
        return queryset.filter(appeal_status=value)

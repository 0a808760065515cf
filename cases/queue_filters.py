"""Filters and sorts of the queue page (django-filter over cases.selectors.queues):
every value is checked by its form field, so bad input is a form error, never a 500."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from cases.models import Case, Signal
from moderation.models import Policy, SignalSource

AGE_CHOICES = [("1", "over 1 hour"), ("24", "over 1 day"), ("72", "over 3 days"), ("168", "over a week")]
REACH_CHOICES = [("100", "100+ followers"), ("1000", "1,000+ followers"), ("10000", "10,000+ followers")]
SORTS = (
    ("priority", "priority"),
    ("opened_at", "age"),
    ("signal_count", "signals"),
    ("max_detector_score", "score"),
    ("reach", "reach"),
    ("story_reads", "reads"),
    ("money_rank", "money"),
    ("sla_due_at", "sla"),
)
SORT_LABELS = {
    "priority": "Priority",
    "age": "Age",
    "signals": "Signals",
    "score": "Top score",
    "reach": "Followers",
    "reads": "Story reads",
    "money": "Money at stake",
    "sla": "SLA",
}


class NullsLastOrdering(django_filters.OrderingFilter):
    """Sorts with empty values (no detector score) last either way, then the review
    order, so pages stay stable."""

    def get_ordering_value(self, param):
        descending = param.startswith("-")
        name = self.param_map.get(param.lstrip("-"), param.lstrip("-"))
        return F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        return qs.order_by(*qs.query.order_by, "-priority", "opened_at", "id") if value else qs


class QueueCaseFilter(django_filters.FilterSet):
    policy = django_filters.ModelChoiceFilter(
        field_name="policy", queryset=Policy.objects.none(), empty_label="any policy", label="Policy"
    )
    account = django_filters.CharFilter(
        field_name="account__handle", lookup_expr="icontains", max_length=64, label="Account"
    )
    detector = django_filters.ChoiceFilter(
        choices=[], method="by_detector", empty_label="any detector", label="Detector"
    )
    age = django_filters.ChoiceFilter(choices=AGE_CHOICES, method="by_age", empty_label="any age", label="Age")
    reach = django_filters.ChoiceFilter(
        choices=REACH_CHOICES, method="by_reach", empty_label="any reach", label="Reach"
    )
    sort = NullsLastOrdering(fields=SORTS, field_labels=SORT_LABELS, label="Sort by", empty_label="review order")

    class Meta:
        model = Case
        fields: list[str] = []

    def __init__(self, *args, detectors=(), now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self.filters["policy"].queryset = Policy.objects.current().order_by("code")
        self.filters["detector"].extra["choices"] = [(d, d) for d in detectors]

    def by_detector(self, queryset, name, value):
        signals = Signal.objects.filter(case=OuterRef("pk"), source=SignalSource.DETECTOR, detector_name=value)
        return queryset.filter(Exists(signals))

    def by_age(self, queryset, name, value):
        return queryset.filter(opened_at__lte=self.now - timedelta(hours=int(value)))

    def by_reach(self, queryset, name, value):
        return queryset.filter(account__follower_count__gte=int(value))

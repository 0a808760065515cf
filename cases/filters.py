"""Filters for the case list (API); the selectors own the joins."""

import django_filters
from django.db.models import Q

from cases.models import Case, CaseStatus


class CaseFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CaseStatus.choices)
    queue = django_filters.CharFilter(field_name="queue__slug", help_text="Queue slug.")
    policy = django_filters.CharFilter(field_name="policy__code", help_text="Policy code, e.g. ai.paywalled_generated.")
    family = django_filters.CharFilter(field_name="policy_family", help_text="Policy family, e.g. ai, spam.")
    account = django_filters.CharFilter(method="filter_account", help_text="Platform id or handle of the account.")
    story = django_filters.CharFilter(field_name="story__platform_id", help_text="Platform id of the story.")
    automated_origin = django_filters.BooleanFilter()
    assignee = django_filters.CharFilter(field_name="assignee__username", help_text="Username of the reviewer.")
    created = django_filters.IsoDateTimeFromToRangeFilter(
        field_name="opened_at", help_text="created_after / created_before (ISO 8601)."
    )
    due = django_filters.IsoDateTimeFromToRangeFilter(
        field_name="sla_due_at", help_text="due_after / due_before (ISO 8601)."
    )
    sla_breached = django_filters.BooleanFilter(help_text="Open and past its SLA due time.")

    class Meta:
        model = Case
        fields = []

    def filter_account(self, queryset, name, value):
        return queryset.filter(Q(account__platform_id=value) | Q(account__handle=value))

"""Filters for the case list (API); the selectors own the joins.

Every value is checked before it reaches a query: text without control characters,
times with a real UTC offset (converted to UTC), booleans only `true`/`false`.
API clients cannot filter by what they cannot read (the assignee is ignored for them).
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField, RangeField
from django_filters.widgets import DateRangeWidget
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from cases import permissions as policy
from cases.models import Case, CaseStatus
from moderation.api_schema import IDENTIFIER_PATTERN
from moderation.validation import bad_character, character_message, utc_datetime


def _no_control_characters(value: str) -> None:
    char = bad_character(value, allow_whitespace=False)
    if char is not None:
        raise ValidationError(character_message(char))


@extend_schema_field({"type": "string", "maxLength": 128, "pattern": IDENTIFIER_PATTERN})
class SafeCharFilter(django_filters.CharFilter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 128)
        kwargs.setdefault("validators", [_no_control_characters])
        super().__init__(*args, **kwargs)


class UTCIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 / RFC 3339, handed to the query in UTC: PostgreSQL refuses offsets
    beyond ±15:59 that RFC 3339 allows (up to ±23:59)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        return None if parsed is None else utc_datetime(parsed)


class UTCIsoDateTimeRangeField(RangeField):
    widget = DateRangeWidget

    def __init__(self, *args, **kwargs):
        super().__init__((UTCIsoDateTimeField(), UTCIsoDateTimeField()), *args, **kwargs)


class UTCIsoDateTimeFromToRangeFilter(django_filters.RangeFilter):
    field_class = UTCIsoDateTimeRangeField


class StrictBooleanField(forms.Field):
    """`true` or `false` (as the schema says); anything else is an error, not ignored."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise ValidationError("Enter true or false.", code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class CaseFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CaseStatus.choices)
    queue = SafeCharFilter(field_name="queue__slug", help_text="Queue slug.")
    policy = SafeCharFilter(field_name="policy__code", help_text="Policy code, e.g. ai.paywalled_generated.")
    family = SafeCharFilter(field_name="policy_family", help_text="Policy family, e.g. ai, spam.")
    account = SafeCharFilter(method="filter_account", help_text="Platform id or handle of the account.")
    story = SafeCharFilter(field_name="story__platform_id", help_text="Platform id of the story.")
    automated_origin = StrictBooleanFilter()
    assignee = SafeCharFilter(
        method="filter_assignee", help_text="Username of the reviewer (staff only; ignored for API clients)."
    )
    created = UTCIsoDateTimeFromToRangeFilter(
        field_name="opened_at", help_text="created_after / created_before (ISO 8601)."
    )
    due = UTCIsoDateTimeFromToRangeFilter(field_name="sla_due_at", help_text="due_after / due_before (ISO 8601).")
    sla_breached = StrictBooleanFilter(help_text="Open and past its SLA due time.")

    class Meta:
        model = Case
        fields = []

    def is_valid(self):
        """A typed parameter sent empty is an error, not a filter left out: the schema
        allows no empty date, boolean or status."""
        valid = super().is_valid()
        for name in ("created_after", "created_before", "due_after", "due_before", "sla_breached", "automated_origin"):
            if self.data.get(name) == "":
                self.form.add_error(None, f"{name}: enter a value or leave the parameter out.")
                valid = False
        if "" in self.data.getlist("status", []):
            self.form.add_error("status", "Enter a status or leave the parameter out.")
            valid = False
        return valid

    def filter_assignee(self, queryset, name, value):
        """Clients never see assignees, so their filter is ignored: any name gives the
        same answer and tells them nothing about who works their cases."""
        if policy.api_client_of(getattr(self.request, "user", None)) is not None:
            return queryset
        return queryset.filter(assignee__username=value)

    def filter_account(self, queryset, name, value):
        return queryset.filter(Q(account__platform_id=value) | Q(account__handle=value))

"""Forms of the supervision pages. They check input; the services make the changes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from moderation.models import Outcome, Policy
from supervision.models import RecallMode, RecallSelection, Settlement
from supervision.selectors import Period

DATE = forms.DateInput(attrs={"type": "date"})
DEFAULT_DAYS = 28


class PeriodForm(forms.Form):
    """A period in whole days, both ends included (UTC)."""

    start = forms.DateField(required=False, widget=DATE, label="From")
    end = forms.DateField(required=False, widget=DATE, label="To (included)")

    def __init__(self, data=None, *, default_days: int = DEFAULT_DAYS, **kwargs):
        self.default_days = default_days
        super().__init__(data if data and ("start" in data or "end" in data) else None, **kwargs)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            raise forms.ValidationError("The period ends before it starts.")
        return cleaned

    def dates(self) -> tuple[date, date]:
        today = timezone.now().date()
        if self.is_bound and self.is_valid():
            end = self.cleaned_data.get("end") or today
            start = self.cleaned_data.get("start") or end - timedelta(days=self.default_days - 1)
            return start, end
        return today - timedelta(days=self.default_days - 1), today

    def period(self) -> Period:
        start, end = self.dates()
        tz = timezone.get_current_timezone()
        return Period(
            datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
        )


class QAReviewForm(forms.Form):
    """The blind second decision: nothing about the first one is prefilled."""

    is_violation = forms.TypedChoiceField(
        choices=[("yes", "Violation"), ("no", "No violation")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        label="Your verdict",
    )
    policy = forms.ModelChoiceField(
        queryset=Policy.objects.current().order_by("code"), required=False, label="Policy broken"
    )
    outcomes = forms.MultipleChoiceField(
        choices=Outcome.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Outcomes you would apply"
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Note (internal)")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("is_violation") and not cleaned.get("policy"):
            self.add_error("policy", "Name the policy that was broken.")
        if cleaned.get("is_violation") is False and cleaned.get("outcomes"):
            self.add_error("outcomes", "No violation means no outcomes.")
        return cleaned


class SettleForm(forms.Form):
    settlement = forms.ChoiceField(choices=Settlement.choices, widget=forms.RadioSelect, label="Who was right?")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Why (internal, shared with both reviewers)")
    requeue = forms.BooleanField(required=False, label="Send the case back to its queue for a fresh decision")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("requeue") and cleaned.get("settlement") == Settlement.FIRST_RIGHT:
            self.add_error("requeue", "The first decision stands; there is nothing to review again.")
        return cleaned


class RecallPlanForm(forms.Form):
    mode = forms.ChoiceField(choices=RecallMode.choices, widget=forms.RadioSelect, label="What to do")
    selection = forms.ChoiceField(
        choices=RecallSelection.choices,
        widget=forms.RadioSelect,
        initial=RecallSelection.DISPUTED,
        label="Start the plan from",
        help_text="You can tick and untick cases and actions on every page of the plan afterwards.",
    )


class RecallConfirmForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, label="Reason (internal, goes to the audit log)"
    )
    writer_statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        label="What writers read (reverse mode)",
    )
    fingerprint = forms.CharField(widget=forms.HiddenInput)
    confirm = forms.BooleanField(label="I checked the plan; act on exactly these cases and actions")

    def __init__(self, *args, mode: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.mode = mode
        if mode != RecallMode.REVERSE:
            del self.fields["writer_statement"]

    def clean(self):
        cleaned = super().clean()
        if self.mode == RecallMode.REVERSE and not (cleaned.get("writer_statement") or "").strip():
            self.add_error("writer_statement", "Write what the writers will read in their notice.")
        if not (cleaned.get("reason") or "").strip() and "reason" not in self.errors:
            self.add_error("reason", "Give the reason for the recall.")
        return cleaned

"""Forms of the review pages. They parse input; every rule lives in cases.services.review."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from cases.services.review import DecisionInput, statement_template_error
from moderation.models import Outcome, Policy
from moderation.platform import DEFAULT_HOLD_DAYS
from moderation.statement_templates import PLACEHOLDERS

VERDICT_CHOICES = [("right", "Detector was right"), ("wrong", "Detector was wrong")]


class DecisionForm(forms.Form):
    is_violation = forms.TypedChoiceField(
        label="Verdict",
        choices=[("yes", "Violation"), ("no", "No violation")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose violation or no violation."},
    )
    policy = forms.ModelChoiceField(queryset=Policy.objects.current(), required=False, label="Rule broken")
    outcomes = forms.MultipleChoiceField(choices=Outcome.choices, required=False, widget=forms.CheckboxSelectMultiple)
    hold_days = forms.IntegerField(
        min_value=1, max_value=365, initial=DEFAULT_HOLD_DAYS, label="Earnings hold (days)", required=False
    )
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,  # the service says what is missing, with every other error at once
        label="Internal rationale",
        help_text="Private: colleagues and auditors read it, the writer never does.",
    )
    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        label="Statement of reasons",
        help_text="Public: the writer reads this in the notice. No internal notes or names.",
    )
    handling_seconds = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    override_reason = forms.CharField(  # rendered by review/_strikes.html, outside the <form> element
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "form": "decision-form"}),
        label="Why milder than the escalation proposal",
        help_text="Private. Needed when your outcomes are milder than the catalogue's escalation step.",
    )

    def __init__(self, *args, detector_signals=(), policies=None, **kwargs):
        super().__init__(*args, **kwargs)
        if policies is not None:
            self.fields["policy"].queryset = Policy.objects.current()
            self.fields["policy"].choices = [("", "—")] + [(p.pk, f"{p.code} · {p.title}") for p in policies]
        self.detector_fields = []
        for signal in detector_signals:
            name = f"detector_{signal.pk}"
            self.fields[name] = forms.ChoiceField(
                choices=VERDICT_CHOICES,
                widget=forms.RadioSelect,
                label=f"{signal.detector_name} {signal.detector_version} (score {signal.score:.2f})"
                if signal.score is not None
                else f"{signal.detector_name} {signal.detector_version}",
                required=False,
            )
            self.detector_fields.append((signal, name))

    def detector_rows(self):
        return [(signal, self[name]) for signal, name in self.detector_fields]

    def detector_marks(self) -> dict[int, bool]:
        return {
            signal.pk: self.cleaned_data[name] == "right"
            for signal, name in self.detector_fields
            if self.cleaned_data.get(name)
        }

    def decision_input(self):
        """What was typed, as the service reads it; also from a form that did not
        validate, so the service can name every missing piece in one answer."""
        data = getattr(self, "cleaned_data", {})
        return DecisionInput(
            is_violation=data.get("is_violation", False),
            policy=data.get("policy"),
            outcomes=data.get("outcomes") or [],
            rationale=data.get("rationale") or "",
            statement=data.get("statement") or "",
            detector_marks=self.detector_marks() if hasattr(self, "cleaned_data") else {},
            hold_days=data.get("hold_days") or DEFAULT_HOLD_DAYS,
            override_reason=data.get("override_reason") or "",
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class StatementPreviewForm(forms.Form):
    """The decision form's fields the statement depends on (the preview reads the same POST)."""

    is_violation = forms.ChoiceField(choices=[("yes", "Violation"), ("no", "No violation")], required=False)
    policy = forms.ModelChoiceField(queryset=Policy.objects.current(), required=False)
    outcomes = forms.MultipleChoiceField(choices=Outcome.choices, required=False)
    hold_days = forms.IntegerField(min_value=1, max_value=365, required=False)
    statement = forms.CharField(required=False, strip=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("is_violation") != "no" and not cleaned.get("policy") and "policy" not in self.errors:
            self.add_error("policy", "Choose the rule that was broken to preview its statement.")
        return cleaned


class RejectForm(forms.Form):
    note = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Why not")


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), label="Reviewer")

    def __init__(self, *args, reviewers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if reviewers is not None:
            self.fields["assignee"].queryset = reviewers


class BulkDecisionForm(forms.Form):
    cases = forms.CharField(widget=forms.HiddenInput, required=False)
    is_violation = DecisionForm.base_fields["is_violation"]
    policy = forms.ModelChoiceField(queryset=Policy.objects.current().order_by("code"), required=False)
    outcomes = forms.MultipleChoiceField(choices=Outcome.choices, required=False, widget=forms.CheckboxSelectMultiple)
    hold_days = forms.IntegerField(min_value=1, max_value=365, initial=DEFAULT_HOLD_DAYS, required=False)
    detectors_correct = forms.TypedChoiceField(
        choices=[("right", "Detectors were right"), ("wrong", "Detectors were wrong")],
        coerce=lambda v: v == "right",
        widget=forms.RadioSelect,
        initial="right",
        label="Detector signals on these cases",
    )
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Internal rationale")
    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        label="Statement of reasons (template)",
        help_text="Filled in for each case: "
        + ", ".join(f"{{{name}}} ({what})" for name, what in PLACEHOLDERS.items())
        + ".",
    )

    def clean_statement(self):
        statement = self.cleaned_data["statement"]
        error = statement_template_error(statement)
        if error:
            raise forms.ValidationError(error)
        return statement

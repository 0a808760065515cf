"""Writer-facing forms (public) and the reviewer's decision form. Forms check input;
the rules live in appeals.services."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from appeals.models import AppealStatus
from appeals.services import STATEMENT_MAX_CHARS
from appeals.uploads import MAX_FILES, sniff_content_type
from moderation.validation import NoControlCharacters

FOLLOWERS_CHOICE = "followers"


class StartForm(forms.Form):
    handle = forms.CharField(
        label=gettext_lazy("Your handle"),
        max_length=64,
        validators=[NoControlCharacters()],
        help_text=gettext_lazy("The name after @ in your profile address."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}),
    )
    email = forms.EmailField(
        label=gettext_lazy("The email address on your account"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".png,.jpg,.jpeg,.pdf,image/png,image/jpeg"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > MAX_FILES:
            raise ValidationError(_("Attach at most %(count)s files.") % {"count": MAX_FILES})
        errors, cleaned = [], []
        for item in files:
            try:
                cleaned.append(super().clean(item, initial))
                sniff_content_type(item)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return cleaned


class AppealForm(forms.Form):
    choice = forms.ChoiceField(label=gettext_lazy("What do you want us to look at again?"), widget=forms.RadioSelect)
    followers_dropped_on = forms.DateField(
        label=gettext_lazy("Roughly when did your followers drop?"),
        required=False,
        help_text=gettext_lazy(
            "Only if you chose “My followers dropped”, and only if you know it: an approximate date helps us, "
            "but we find the removed followers from our records."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    writer_statement = forms.CharField(
        label=gettext_lazy("Tell us why you think we got it wrong"),
        min_length=20,
        max_length=STATEMENT_MAX_CHARS,
        validators=[NoControlCharacters(multiline=True)],
        help_text=gettext_lazy("What happened, in your own words. Links to drafts or sources help."),
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    contact_email = forms.EmailField(
        label=gettext_lazy("Where should we write to you?"),
        max_length=254,
        help_text=gettext_lazy("We send the status link and the decision here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    files = MultipleFileField(
        label=gettext_lazy("Files that support your appeal"),
        required=False,
        help_text=format_lazy(gettext_lazy("Up to {count} PNG, JPEG or PDF files, 5 MB each."), count=MAX_FILES),
    )

    def __init__(self, *args, options, allow_followers: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.options = {o.value: o for o in options}
        choices = [(o.value, o.label) for o in options]
        if allow_followers:
            choices.append((FOLLOWERS_CHOICE, _("My followers dropped")))
        self.fields["choice"].choices = choices
        if not allow_followers:
            del self.fields["followers_dropped_on"]
        if len(choices) == 1:
            self.fields["choice"].initial = choices[0][0]

    @property
    def chosen_option(self):
        return self.options.get(self.cleaned_data.get("choice"))


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            (AppealStatus.UPHELD, "Uphold the decision"),
            (AppealStatus.OVERTURNED, "Overturn: reverse every appealed action / judge every purged follower genuine"),
            (AppealStatus.PARTIALLY_OVERTURNED, "Partially overturn: only what I tick below"),
        ],
        widget=forms.RadioSelect,
    )
    actions_to_reverse = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Actions to reverse"
    )
    followers_to_reinstate = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Followers judged genuine"
    )
    reverse_followers = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Also reverse that account's own suspension and purge (otherwise its case goes back to review)",
    )
    statement = forms.CharField(
        label="Statement to the writer",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="The writer reads this on their status page and in the email. No staff names.",
    )
    internal_note = forms.CharField(
        label="Internal note", required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Never shown."
    )

    plan_fingerprint = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, action_choices=(), follower_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actions_to_reverse"].choices = list(action_choices)
        self.fields["followers_to_reinstate"].choices = list(follower_choices)
        self.fields["reverse_followers"].choices = list(follower_choices)

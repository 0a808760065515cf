"""Property tests (hypothesis) on the writer's appeal forms: any text is a verdict,
never an exception, and what passes holds no control characters."""

from hypothesis import given, settings
from hypothesis import strategies as st

from appeals.forms import AppealForm, StartForm
from appeals.services import STATEMENT_MAX_CHARS
from moderation.validation import bad_character

text = st.text(max_size=300) | st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80)


@settings(max_examples=300, deadline=None)
@given(handle=text, email=text)
def test_the_start_form_accepts_only_clean_handles_and_emails(handle, email):
    form = StartForm(data={"handle": handle, "email": email})
    if form.is_valid():
        assert bad_character(form.cleaned_data["handle"], allow_whitespace=False) is None
        assert "@" in form.cleaned_data["email"] and bad_character(form.cleaned_data["email"]) is None
    else:
        assert form.errors


class _Option:
    def __init__(self, value):
        self.value, self.label = value, f"Action {value}"


@settings(max_examples=300, deadline=None)
@given(statement=text | st.text(min_size=4990, max_size=5010), email=text, choice=text | st.just("a1"))
def test_the_appeal_form_accepts_only_a_clean_statement_of_the_right_length(statement, email, choice):
    form = AppealForm(
        data={"choice": choice, "writer_statement": statement, "contact_email": email},
        options=[_Option("a1")],
        allow_followers=False,
    )
    if form.is_valid():
        cleaned = form.cleaned_data["writer_statement"]
        assert 20 <= len(cleaned) <= STATEMENT_MAX_CHARS
        assert bad_character(cleaned) is None
        assert form.cleaned_data["choice"] == "a1"
    else:
        assert form.errors

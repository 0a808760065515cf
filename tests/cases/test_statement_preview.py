"""The reviewer previews the exact letter before submitting: for the rule, outcomes and
text on the form, as a fragment for the page's script or a page of its own without it."""

import pytest
from django.urls import reverse

from cases import statements
from cases.models import Decision, Notice
from cases.services import review
from tests.cases.review_factories import story_case
from tests.factories import appeals_reviewer, moderator, policy

pytestmark = pytest.mark.django_db

FRAGMENT = {"HTTP_X_REQUESTED_WITH": "statement-preview"}


@pytest.fixture
def claimed(client):
    case = story_case(code="spam.duplicate")
    user = moderator()
    review.claim_case(user=user, case=case)
    client.force_login(user)
    return case


def _form(case, **overrides):
    return {
        "is_violation": "yes",
        "policy": policy("spam.duplicate").pk,
        "outcomes": ["story.remove"],
        "statement": "You posted this story twice, on 1 and 2 March.",
        "hold_days": 30,
        "rationale": "",
        **overrides,
    }


def test_the_review_page_offers_the_preview_inside_the_decision_form(client, claimed):
    html = client.get(reverse("review:case", args=[claimed.pk])).content.decode()
    form = html.split('id="decision-form"')[1].split("</form>")[0]
    url = reverse("review:statement_preview", args=[claimed.pk])
    assert f'formaction="{url}"' in form and 'formtarget="_blank"' in form and "Preview statement" in form
    assert form.index('id="decide-btn"') < form.index('id="statement-preview-btn"'), "Enter still submits the decision"


def test_preview_fragment_is_the_letter_for_what_the_form_holds(client, claimed):
    response = client.post(reverse("review:statement_preview", args=[claimed.pk]), _form(claimed), **FRAGMENT)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "What the writer will read" in html and "You posted this story twice, on 1 and 2 March." in html
    assert "Duration: until reversed on appeal or review." in html and "you can appeal until" in html
    assert f"Decision on your story: {policy('spam.duplicate').title}" in html
    assert html.count(policy("spam.duplicate").description) == 1
    assert not Decision.objects.exists() and not Notice.objects.exists(), "a preview changes nothing"


def test_preview_follows_the_chosen_outcome_and_names_problems(client, claimed):
    url = reverse("review:statement_preview", args=[claimed.pk])
    html = client.post(url, _form(claimed, outcomes=["warning"]), **FRAGMENT).content.decode()
    assert "Duration: no duration." in html and "nothing else changes" in html
    html = client.post(url, _form(claimed, outcomes=["partner.revoke"], statement=""), **FRAGMENT).content.decode()
    assert "partner.revoke is not allowed under spam.duplicate." in html
    assert "The statement is empty" in html
    dismissed = client.post(url, _form(claimed, is_violation="no"), **FRAGMENT).content.decode()
    assert "the writer gets no statement" in dismissed


def test_preview_refuses_bad_input_with_a_message_not_a_500(client, claimed):
    url = reverse("review:statement_preview", args=[claimed.pk])
    response = client.post(url, _form(claimed, policy="999999", hold_days="x"), **FRAGMENT)
    assert response.status_code == 400 and "errorlist" in response.content.decode()
    missing = client.post(url, _form(claimed, policy=""), **FRAGMENT)
    assert missing.status_code == 400 and "Choose the rule" in missing.content.decode()
    assert client.post(reverse("review:statement_preview", args=[10**9]), _form(claimed)).status_code == 404


def test_without_script_the_preview_is_a_page_of_its_own(client, claimed):
    response = client.post(reverse("review:statement_preview", args=[claimed.pk]), _form(claimed))
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html and f"Back to case #{claimed.pk}" in html
    assert "You posted this story twice" in html
    shown = client.get(reverse("review:statement_preview", args=[claimed.pk])).content.decode()
    facts = statements.render_facts(claimed.policy.statement_template, claimed, claimed.policy)
    tail = facts.split("”. ")[1]  # the policy's own words, after the filled-in story title
    assert tail in shown, "unbound: the case's rule, its default outcomes and its template"


def test_only_reviewers_preview(client, claimed):
    client.force_login(appeals_reviewer())
    assert client.post(reverse("review:statement_preview", args=[claimed.pk]), _form(claimed)).status_code == 403

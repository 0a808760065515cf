"""Statements of reasons: each policy's catalogue template cites the case's facts, and the
letter around it says what we decided, for how long, the rule once, and how to appeal by when."""

from datetime import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases import statements
from cases.forms import BulkDecisionForm
from cases.models import Notice
from cases.services import review
from moderation.catalogue import DEFAULT_TEMPLATE
from moderation.catalogue_statements import STATEMENT_TEMPLATES
from moderation.models import Outcome, Policy, SignalSource
from moderation.statement_templates import fill
from tests.cases.review_factories import account_case, story_case
from tests.factories import AccountFactory, SignalFactory, moderator, policy

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime(2026, 3, 10, 12, 0))
REPORTED = timezone.make_aware(datetime(2026, 3, 3, 9, 30))
REPORTED_AGAIN = timezone.make_aware(datetime(2026, 3, 4, 18, 0))
FLAGGED = timezone.make_aware(datetime(2026, 3, 2, 7, 15))


def _signal(case, source, received_at, **kwargs):
    if source == SignalSource.DETECTOR:
        kwargs.update(detector=True, policy=case.policy)
    signal = SignalFactory(source=source, account=case.account, story=case.story, case=case, **kwargs)
    type(signal).objects.filter(pk=signal.pk).update(received_at=received_at)
    return signal


def reported_and_flagged(case):
    """Two reader reports on two days and one detector flag the day before."""
    for when in (REPORTED, REPORTED_AGAIN):
        _signal(case, SignalSource.READER_REPORT, when, reporter=AccountFactory())
    _signal(case, SignalSource.DETECTOR, FLAGGED)
    return case


def test_every_policy_in_the_catalogue_has_its_own_template_as_a_new_version():
    current = {p.code: p for p in Policy.objects.current()}
    assert set(current) == set(STATEMENT_TEMPLATES)
    assert {p.version for p in current.values()} == {2}, "published as version 2; v1 stays for old decisions"
    assert Policy.objects.filter(version=1, statement_template=DEFAULT_TEMPLATE).count() == len(current)
    assert len({p.statement_template for p in current.values()}) == len(current), "no two policies share one"
    for p in current.values():
        p.full_clean()
        assert "{policy_description}" not in p.statement_template, "the letter quotes the rule once itself"


@pytest.mark.parametrize("code", sorted(STATEMENT_TEMPLATES))
def test_statement_per_policy_cites_the_facts(code):
    case = reported_and_flagged(story_case(code=code))
    pol = case.policy
    facts = statements.render_facts(pol.statement_template, case, pol)
    letter = statements.preview(
        case=case, policy=pol, outcomes=list(pol.default_outcomes), facts_text=facts, hold_days=30, now=NOW
    )
    body = letter.body
    assert letter.problems == []
    assert f"“{case.story.title}”" in body and case.story.url in body  # the story and its link
    assert "2 reports from readers (between 3 March 2026 and 4 March 2026)" in body  # kinds and dates
    assert "a flag from our automated detection (on 2 March 2026)" in body
    assert "ai-text-classifier" not in body, "the writer reads the kind of signal, not the detector's name"
    for outcome in pol.default_outcomes:
        measure = statements.measures_for([outcome], hold_days=30, now=NOW)[0]
        assert f"- {Outcome(outcome).label}: {statements.WHAT_IT_CHANGES[outcome]}" in body  # outcome in words
        assert f"Duration: {measure.duration}." in body
    assert facts in body and "{" not in facts  # the policy's own paragraph, filled in
    assert body.count(pol.description) == 1, "the rule in plain words, once"
    assert f"you can appeal until {statements.day(NOW + statements.appeal_window())}" in body
    assert statements.APPEAL_LINK_PREVIEW in body


def test_an_earnings_hold_says_when_it_ends_and_an_account_case_names_the_account():
    case = account_case(code="engagement.ring")
    _signal(case, SignalSource.STAFF, REPORTED)
    letter = statements.preview(
        case=case,
        policy=case.policy,
        outcomes=["partner.earnings_hold"],
        facts_text=statements.render_facts(case.policy.statement_template, case, case.policy),
        hold_days=45,
        now=NOW,
    )
    assert "Duration: until 24 April 2026." in letter.body
    assert f"your account @{case.account.handle}" in letter.body
    assert "a report from our Trust & Safety staff (on 3 March 2026)" in letter.body
    assert "Our Trust & Safety staff found it." in letter.body


def test_the_notice_sent_is_the_letter_the_preview_showed():
    case = reported_and_flagged(story_case(code="ai.paywalled_generated"))
    user = moderator()
    review.claim_case(user=user, case=case)
    facts = statements.render_facts(case.policy.statement_template, case, case.policy)
    shown = statements.preview(
        case=case, policy=case.policy, outcomes=["paywall.remove"], facts_text=facts, hold_days=30
    )
    decision = review.decide_case(
        case=case,
        user=user,
        data=review.DecisionInput(
            is_violation=True,
            policy=case.policy,
            outcomes=["paywall.remove"],
            rationale="Internal: same phrasing as the classifier's training set.",
            statement=facts,
            detector_marks={s.pk: True for s in case.signals.filter(source=SignalSource.DETECTOR)},
        ),
    )
    notice = Notice.objects.get(decision=decision, recipient_kind="writer")
    assert _before_appeal(notice.body) == _before_appeal(shown.body)
    assert notice.subject == shown.subject
    assert "/appeal/notice/" in notice.body and statements.APPEAL_LINK_PREVIEW not in notice.body
    on_the_writers_pages = statements.statement_for_notice(notice)
    assert _before_appeal(on_the_writers_pages) in notice.body
    assert "you can appeal until" in on_the_writers_pages and "/appeal/notice/" not in on_the_writers_pages


def _before_appeal(text: str) -> str:
    return text.split("\n\nHow to appeal:")[0]


def test_muted_reporters_signals_are_not_cited():
    case = story_case(code="spam.duplicate")
    _signal(case, SignalSource.READER_REPORT, REPORTED, reporter=AccountFactory(), set_aside=True)
    _signal(case, SignalSource.DETECTOR, FLAGGED)
    phrase = statements.signals_phrase(statements.case_signals(case))
    assert phrase == "a flag from our automated detection (on 2 March 2026)"


@pytest.mark.parametrize("bad", ["{handle.__class__}", "{story_title[0]}", "{handle:>99999}", "{handle!r}", "{x}", "{"])
def test_templates_only_take_bare_placeholders(bad):
    form = BulkDecisionForm(data={"is_violation": "yes", "statement": f"Hello {bad}", "rationale": "r"})
    assert not form.is_valid() and "statement" in form.errors
    pol = policy("spam.duplicate")
    pol.statement_template = f"Hello {bad}"
    with pytest.raises(ValidationError):
        pol.full_clean()
    assert fill(f"Hello {bad}", {"handle": "ada"}) == f"Hello {bad}", "never formatted"


def test_a_statement_with_braces_in_the_story_title_is_not_formatted_twice():
    case = story_case(code="spam.duplicate")
    type(case.story).objects.filter(pk=case.story_id).update(title="Use {handle.__class__} in Python")
    case.story.refresh_from_db()
    facts = statements.render_facts(case.policy.statement_template, case, case.policy)
    assert "“Use {handle.__class__} in Python”" in facts
    letter = statements.preview(case=case, policy=case.policy, outcomes=["story.remove"], facts_text=facts, hold_days=1)
    assert "Use {handle.__class__} in Python" in letter.body

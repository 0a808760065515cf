from datetime import timedelta

import pytest
from django.conf import settings
from django.core import signing
from django.test import override_settings
from django.utils import timezone

from cases.models import Notice
from cases.notices import appeal_link, make_appeal_token, read_appeal_token
from cases.services import review
from moderation.models import SignalSource
from tests.cases.review_factories import detector_signal, story_case
from tests.factories import AccountFactory, SignalFactory, moderator, policy

pytestmark = pytest.mark.django_db


def decide(case, user=None):
    user = user or moderator()
    review.claim_case(user=user, case=case)
    marks = {s.pk: True for s in case.signals.filter(source=SignalSource.DETECTOR)}
    pol = policy("ai.undisclosed_generated")
    return review.decide_case(
        case=case,
        user=user,
        data=review.DecisionInput(
            is_violation=True,
            policy=pol,
            outcomes=["distribution.network_only"],
            rationale="PRIVATE: writer has a history of this, see Slack thread.",
            statement="Your story reads as AI-generated and carries no disclosure.",
            detector_marks=marks,
        ),
    )


def test_writer_notice_has_the_statement_of_reasons_contents():
    case = story_case(code="ai.undisclosed_generated")
    reporter = AccountFactory(handle="reader1")
    SignalFactory(
        source=SignalSource.READER_REPORT, reporter=reporter, account=case.account, story=case.story, case=case
    )
    detector_signal(case, policy=policy("ai.undisclosed_generated"))
    decision = decide(case)
    notice = Notice.objects.get(decision=decision, recipient_kind="writer")
    body = notice.body
    assert "Network-only distribution" in body and "followers and subscribers" in body  # measure
    assert "Duration: until reversed on appeal or review" in body  # how long
    assert "Your story reads as AI-generated" in body  # facts
    assert policy("ai.undisclosed_generated").title in body  # rule and its explanation
    assert policy("ai.undisclosed_generated").description in body
    assert "Readers reported it to us, and our automated detection flagged it too." in body  # origin
    assert "automated tools were used to detect" in body and "made by a person" in body  # automated means
    assert appeal_link(notice).split("/appeal/notice/")[0] in body and "/appeal/notice/" in body  # redress
    assert notice.automated_detection is True
    assert abs((notice.appeal_deadline - timezone.now()) - timedelta(days=183)) < timedelta(minutes=1)
    assert "PRIVATE" not in body and "Slack" not in body and decision.decided_by.username not in body


def test_reporter_hears_the_outcome_without_private_details():
    case = story_case(code="ai.undisclosed_generated")
    reporter = AccountFactory(handle="reader2", email="reader2@example.com")
    SignalFactory(
        source=SignalSource.READER_REPORT, reporter=reporter, account=case.account, story=case.story, case=case
    )
    decide(case)
    notice = Notice.objects.get(case=case, recipient_kind="reporter")
    assert notice.account == reporter
    assert "took action" in notice.body
    assert "PRIVATE" not in notice.body and "Network-only" not in notice.body
    assert case.account.handle not in notice.body and case.account.email not in notice.body


def test_signed_appeal_link_round_trips_and_refuses_tampering_and_age():
    case = story_case(code="ai.undisclosed_generated")
    decide(case)
    notice = Notice.objects.get(case=case, recipient_kind="writer")
    token = make_appeal_token(notice)
    assert read_appeal_token(token) == notice.pk
    with pytest.raises(signing.BadSignature):
        read_appeal_token(token[:-3] + "abc")
    with pytest.raises(signing.BadSignature):
        read_appeal_token(signing.dumps({"notice": notice.pk}, salt="another.salt"))

    # A link older than the appeal window is expired: read it with a window already past.
    past = override_settings(MODERATION={**settings.MODERATION, "APPEAL_WINDOW_DAYS": -1})
    with past, pytest.raises(signing.SignatureExpired):
        read_appeal_token(token)

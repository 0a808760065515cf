import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import close_old_connections, connection
from django.utils import timezone

from cases.models import ActionStatus, Case, CaseStatus, DetectorVerdict, EnforcementAction, Notice
from cases.services import review
from cases.services.enforcement import HumanGateViolation
from moderation.models import AccountStatus, AuditEvent, PartnerStatus
from tests.cases.review_factories import account_case, detector_signal, escalations_queue, service_user, story_case
from tests.factories import AccountFactory, CaseFactory, QueueFactory, moderator, policy, senior_moderator, supervisor

pytestmark = pytest.mark.django_db


def data(code="spam.duplicate", outcomes=None, violation=True, marks=None, **kw):
    pol = policy(code) if code else None
    return review.DecisionInput(
        is_violation=violation,
        policy=pol,
        outcomes=outcomes if outcomes is not None else (list(pol.default_outcomes) if pol else []),
        rationale=kw.pop("rationale", "Same text as three other stories."),
        statement=kw.pop("statement", "Your story duplicates content you posted before."),
        detector_marks=marks or {},
        **kw,
    )


def claimed(case, user):
    return review.claim_case(user=user, case=case)


def test_review_next_takes_highest_priority_then_oldest_and_moves_it_into_review():
    queue = QueueFactory()
    now = timezone.now()
    CaseFactory(queue=queue, priority=5, opened_at=now)
    older = CaseFactory(queue=queue, priority=5, opened_at=now - timedelta(hours=2))
    CaseFactory(queue=queue, priority=1)
    user = moderator()
    case = review.claim_next_case(user=user, queue=queue)
    assert case == older
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_REVIEW and case.assignee == user
    assert case.claim_expires_at - timezone.now() > timedelta(minutes=14)
    assert AuditEvent.objects.filter(case_ref=case.pk, verb="case.review_started").exists()


def test_roles_the_queue_does_not_allow_cannot_claim_from_it():
    queue = QueueFactory(allowed_roles=["senior_moderator"])
    CaseFactory(queue=queue)
    with pytest.raises(PermissionDenied):
        review.claim_next_case(user=moderator(), queue=queue)
    with pytest.raises(PermissionDenied):
        review.claim_next_case(user=supervisor(), queue=queue)
    assert review.claim_next_case(user=senior_moderator(), queue=queue) is not None


def test_an_expired_lease_returns_the_case_to_the_queue():
    queue = QueueFactory()
    case = CaseFactory(queue=queue)
    mira, malik = moderator(), moderator()
    start = timezone.now()
    review.claim_next_case(user=mira, queue=queue, now=start)
    assert review.claim_next_case(user=malik, queue=queue, now=start + timedelta(minutes=10)) is None
    assert review.claim_next_case(user=malik, queue=queue, now=start + timedelta(minutes=16)) == case
    with pytest.raises(review.ReviewError, match="no longer hold"):
        review.decide_case(case=case, user=mira, data=data())


def test_release_skip_and_escalate():
    queue = QueueFactory()
    first, second = CaseFactory(queue=queue, priority=2), CaseFactory(queue=queue, priority=1)
    user = moderator()
    review.claim_next_case(user=user, queue=queue)
    review.release_case(user=user, case=first)
    first.refresh_from_db()
    assert first.status == CaseStatus.OPEN and first.assignee is None

    review.claim_next_case(user=user, queue=queue)
    with pytest.raises(ValidationError):
        review.skip_case(user=user, case=first, reason=" ")
    review.skip_case(user=user, case=first, reason="I know this writer personally")
    # A skipped case is not handed straight back to the same reviewer.
    assert review.claim_next_case(user=user, queue=queue) == second
    assert AuditEvent.objects.get(verb="case.skipped").reason == "I know this writer personally"

    esc = escalations_queue()
    review.escalate_case(user=user, case=second, reason="Possible coordinated campaign")
    second.refresh_from_db()
    assert second.queue == esc and second.status == CaseStatus.ESCALATED and second.assignee is None
    assert review.claim_next_case(user=senior_moderator(), queue=esc) == second


def test_senior_moderators_assign_a_case_to_a_named_reviewer():
    case = CaseFactory()
    mira = moderator()
    with pytest.raises(PermissionDenied):
        review.assign_case(case=case, assignee=mira, by=moderator())
    review.assign_case(case=case, assignee=mira, by=senior_moderator())
    case.refresh_from_db()
    assert case.assignee == mira and case.status == CaseStatus.IN_REVIEW
    assert AuditEvent.objects.filter(verb="claim.assigned", case_ref=case.pk).exists()
    with pytest.raises(ValidationError):
        review.assign_case(case=case, assignee=supervisor(), by=supervisor())


def test_a_plain_decision_applies_its_action_sends_notices_and_audits(run_on_commit):
    case = story_case(code="spam.duplicate")
    signal = detector_signal(case, policy=policy("spam.duplicate"))
    user = moderator()
    claimed(case, user)
    with run_on_commit():
        decision = review.decide_case(case=case, user=user, data=data(marks={signal.pk: True}))
    case.refresh_from_db()
    assert case.status == CaseStatus.DECIDED and case.assignee is None and case.decided_at
    action = EnforcementAction.objects.get(case=case)
    assert action.status == ActionStatus.APPLIED and action.decision == decision
    case.story.refresh_from_db()
    assert case.story.is_removed
    assert DetectorVerdict.objects.get(decision=decision).was_correct is True
    notice = Notice.objects.get(case=case, recipient_kind="writer")
    assert mail.outbox and mail.outbox[0].to == [case.account.email]
    assert "Same text as three other stories" not in notice.body  # rationale stays private
    verbs = set(AuditEvent.objects.filter(case_ref=case.pk).values_list("verb", flat=True))
    assert {"decision.recorded", "action.approved", "action.applied", "case.decided", "notice.sent"} <= verbs


def test_no_violation_closes_the_case_without_actions():
    case = story_case()
    user = moderator()
    claimed(case, user)
    review.decide_case(case=case, user=user, data=data(code=None, violation=False, statement=""))
    case.refresh_from_db()
    assert case.status == CaseStatus.DISMISSED
    assert not EnforcementAction.objects.filter(case=case).exists()


def test_bad_input_is_a_validation_error_with_field_messages():
    case = account_case(code="engagement.bulk_interactions")
    signal = detector_signal(case, policy=policy("engagement.bulk_interactions"))
    user = moderator()
    claimed(case, user)
    with pytest.raises(ValidationError) as exc:
        review.decide_case(
            case=case,
            user=user,
            data=data(code="engagement.bulk_interactions", outcomes=["story.remove"], statement="", rationale=""),
        )
    errors = exc.value.message_dict
    assert {"outcomes", "statement", "rationale", "detector_marks"} <= set(errors)
    assert f"#{signal.pk}" in errors["detector_marks"][0]
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_REVIEW


def test_service_users_can_never_decide_or_approve():
    case = story_case()
    bot = service_user()
    with pytest.raises(HumanGateViolation):
        review.decide_case(case=case, user=bot, data=data())
    with pytest.raises(HumanGateViolation):
        review.approve_decision(decision=_awaiting(), approver=bot)


def _awaiting(user=None):
    case = account_case(code="engagement.bulk_interactions")
    user = user or moderator()
    claimed(case, user)
    return review.decide_case(
        case=case, user=user, data=data(code="engagement.bulk_interactions", outcomes=["account.suspend"])
    )


def test_severe_outcomes_wait_for_a_different_senior_moderator(run_on_commit):
    decider = senior_moderator()
    decision = _awaiting(decider)
    case = decision.case
    case.refresh_from_db()
    assert decision.needs_approval and case.status == CaseStatus.AWAITING_APPROVAL
    action = EnforcementAction.objects.get(case=case)
    assert action.status == ActionStatus.AWAITING_APPROVAL
    assert not Notice.objects.filter(case=case).exists()

    with pytest.raises(PermissionDenied, match="Four eyes"):
        review.approve_decision(decision=decision, approver=decider)
    with pytest.raises(PermissionDenied):
        review.approve_decision(decision=decision, approver=moderator())

    approver = senior_moderator()
    with run_on_commit():
        review.approve_decision(decision=decision, approver=approver)
    decision.refresh_from_db()
    action.refresh_from_db()
    case.account.refresh_from_db()
    assert (decision.decided_by, decision.approved_by) == (decider, approver)
    assert action.status == ActionStatus.APPLIED
    assert case.account.status == AccountStatus.SUSPENDED
    assert Notice.objects.filter(case=case, recipient_kind="writer").exists()
    with pytest.raises(review.CaseAlreadyDecided):
        review.approve_decision(decision=decision, approver=senior_moderator())


def test_rejection_applies_nothing_and_reopens_the_case():
    decision = _awaiting()
    review.reject_decision(decision=decision, approver=senior_moderator(), note="Evidence is thin; restrict instead.")
    decision.case.refresh_from_db()
    assert decision.case.status == CaseStatus.OPEN
    assert EnforcementAction.objects.get(case=decision.case).status == ActionStatus.REJECTED
    assert decision.case.account.status == AccountStatus.ACTIVE


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"partner": True}, "Partner Program"),
        ({"followers": 20_000}, "followers"),
    ],
)
def test_any_outcome_on_a_big_or_partner_account_needs_four_eyes(kwargs, reason):
    case = story_case(code="spam.duplicate", **kwargs)
    user = moderator()
    claimed(case, user)
    decision = review.decide_case(case=case, user=user, data=data())
    assert decision.needs_approval
    assert reason in AuditEvent.objects.get(verb="decision.recorded").reason


def test_harsher_than_default_needs_approval_unless_the_account_is_a_repeat_offender():
    case = story_case(code="spam.duplicate")  # default story.remove, repeat account.restrict
    user = moderator()
    claimed(case, user)
    decision = review.decide_case(case=case, user=user, data=data(outcomes=["account.restrict"]))
    assert decision.needs_approval
    assert "harsher than the policy's default" in AuditEvent.objects.get(verb="decision.recorded").reason

    again = story_case(code="spam.duplicate")
    again.account = decision.case.account
    Case.objects.filter(pk=again.pk).update(account=decision.case.account)
    claimed(again, user)
    second = review.decide_case(case=again, user=user, data=data(outcomes=["account.restrict"]))
    assert not second.needs_approval


def test_proposals_become_actions_only_through_a_decision():
    case = story_case(code="spam.duplicate")
    proposal = EnforcementAction.objects.create(
        case=case, account=case.account, story=case.story, outcome="story.remove", status="proposed"
    )
    other = EnforcementAction.objects.create(case=case, account=case.account, outcome="account.restrict")
    user = moderator()
    claimed(case, user)
    decision = review.decide_case(case=case, user=user, data=data())
    proposal.refresh_from_db()
    other.refresh_from_db()
    assert proposal.decision == decision and proposal.status in {"approved", "applied"}
    assert other.status == ActionStatus.REJECTED


def test_second_submit_on_a_decided_case_gets_a_clear_message():
    case = story_case()
    mira, malik = moderator(username="mira"), moderator()
    claimed(case, mira)
    review.decide_case(case=case, user=mira, data=data())
    with pytest.raises(review.CaseAlreadyDecided, match="already decided by mira"):
        review.decide_case(case=case, user=malik, data=data())
    assert EnforcementAction.objects.filter(case=case).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_one_wins_nothing_applied_twice():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL")
    case = story_case()
    user = moderator()
    claimed(case, user)
    barrier = threading.Barrier(2)
    outcomes = []

    def submit():
        try:
            barrier.wait()
            review.decide_case(case=Case.objects.get(pk=case.pk), user=user, data=data())
            outcomes.append("ok")
        except review.ReviewError as exc:
            outcomes.append(str(exc))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[0].startswith("Case #") and sorted(outcomes)[1] == "ok"
    assert EnforcementAction.objects.filter(case=case).count() == 1
    assert EnforcementAction.objects.get(case=case).status == ActionStatus.APPLIED


def test_bulk_decision_gives_each_ring_account_its_own_decision_action_statement_and_audit(run_on_commit):
    queue = QueueFactory()
    cases = [account_case(code="engagement.ring", queue=queue, account=AccountFactory(partner=True)) for _ in range(30)]
    taken = cases[0]
    claimed(taken, moderator())
    user = moderator()
    with run_on_commit():
        result = review.bulk_decide(
            cases=cases,
            user=user,
            is_violation=True,
            policy=policy("engagement.ring"),
            outcomes=["partner.earnings_hold"],
            rationale="Reciprocal reads among 30 accounts every day.",
            statement_template="@{handle}: we found you in an engagement ring ({policy_title}).",
            detectors_correct=True,
        )
    assert len(result.decisions) == 29 and result.skipped[0][0] == taken.pk
    statements = {d.statement for d in result.decisions}
    assert len(statements) == 29 and all(s.startswith("@") for s in statements)
    assert all(d.is_bulk and d.needs_approval for d in result.decisions)  # partner accounts: four eyes
    assert AuditEvent.objects.filter(verb="decision.recorded").count() == 29
    assert EnforcementAction.objects.filter(status="awaiting_approval").count() == 29


def test_partner_revocation_is_severe_and_restores_enrolment_on_reversal(run_on_commit):
    from cases.services.enforcement import request_reversal

    case = account_case(code="engagement.self", partner=True)
    enrolled = case.account.partner_enrolled_at
    user = moderator()
    claimed(case, user)
    decision = review.decide_case(case=case, user=user, data=data(code="engagement.self", outcomes=["partner.revoke"]))
    with run_on_commit():
        review.approve_decision(decision=decision, approver=senior_moderator())
    case.account.refresh_from_db()
    assert case.account.partner_status == PartnerStatus.REVOKED
    with run_on_commit():
        request_reversal(action=decision.actions.get(), actor=senior_moderator(), reason="overturned")
    case.account.refresh_from_db()
    assert case.account.partner_status == PartnerStatus.ACTIVE and case.account.partner_enrolled_at == enrolled


def test_a_decision_settles_the_standing_of_the_readers_who_reported_it():
    from cases.models import ReporterStanding, Signal
    from moderation.models import SignalSource

    upheld_case, rejected_case = story_case(), story_case()
    alice, bob = AccountFactory(), AccountFactory()
    for case, reporter in ((upheld_case, alice), (rejected_case, bob)):
        Signal.objects.create(
            idempotency_key=f"report-{case.pk}",
            source=SignalSource.READER_REPORT,
            account=case.account,
            story=case.story,
            reporter=reporter,
            observed_at=timezone.now(),
            case=case,
        )
    user = moderator()
    claimed(upheld_case, user)
    review.decide_case(case=upheld_case, user=user, data=data())
    claimed(rejected_case, user)
    review.decide_case(case=rejected_case, user=user, data=data(code=None, outcomes=[], violation=False))
    assert ReporterStanding.objects.get(reporter=alice).upheld_count == 1
    assert ReporterStanding.objects.get(reporter=bob).rejected_count == 1
    assert (
        ReporterStanding.objects.get(reporter=alice).reliability
        > ReporterStanding.objects.get(reporter=bob).reliability
    )

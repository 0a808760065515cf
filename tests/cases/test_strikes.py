"""Strikes: a violation decision puts one on the account with the catalogue's expiry; live
strikes of a family escalate the next proposal along the catalogue's ladder (the version
in force when deciding); a milder choice needs a reason; an overturn, a reversal or a
re-review voids the strike; writers read the count and end dates."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from appeals import services as appeal_services
from appeals.models import AppealStatus
from cases.models import CaseStatus, Notice, ReversalCause
from cases.selectors.strikes import live_strikes, propose, strike_counts, writer_standing
from cases.services import review
from cases.services import strikes as strike_service
from cases.services.requeue import requeue_case
from cases.strikes import Strike, StrikeProposal
from moderation import access
from moderation.models import AuditEvent, Policy
from tests.appeals.factories import apply
from tests.cases.review_factories import story_case
from tests.factories import (
    AccountFactory,
    CaseFactory,
    DecisionFactory,
    QueueFactory,
    StoryFactory,
    UserFactory,
    appeals_reviewer,
    moderator,
    policy,
    senior_moderator,
    supervisor,
)

pytestmark = pytest.mark.django_db


def decide(case, *, user=None, code=None, outcomes=None, violation=True, reason=""):
    user = user or moderator()
    case.refresh_from_db()
    if case.assignee_id != user.pk:
        review.claim_case(user=user, case=case)
    pol = policy(code or case.policy.code)
    data = review.DecisionInput(
        is_violation=violation,
        policy=pol,
        outcomes=(outcomes if outcomes is not None else list(pol.default_outcomes)) if violation else [],
        rationale="Same text as three other stories.",
        statement="Your story duplicates content you posted before.",
        override_reason=reason,
    )
    return review.decide_case(case=case, user=user, data=data)


def another_case(account, code="spam.duplicate"):
    pol = policy(code)
    story = StoryFactory(author=account)
    return CaseFactory(account=account, story=story, policy_family=pol.family, policy=pol, queue=QueueFactory())


def publish(code, **changes):
    edited = Policy.objects.current().get(code=code)
    for name, value in changes.items():
        setattr(edited, name, value)
    return access.publish_policy_version(actor=UserFactory(is_superuser=True), edited=edited)


# Recording ------------------------------------------------------------------------------


def test_a_violation_decision_records_one_strike_with_the_catalogues_expiry():
    case = story_case(code="spam.duplicate")
    decision = decide(case)
    strike = Strike.objects.get()
    pol = policy("spam.duplicate")
    assert (strike.account, strike.case, strike.decision) == (case.account, case, decision)
    assert (strike.policy, strike.family, strike.severity) == (pol, "spam", pol.severity)
    assert strike.expires_at - strike.issued_at == timedelta(days=pol.strike_days) == timedelta(days=180)
    event = AuditEvent.objects.get(verb="strike.issued")
    assert event.case_ref == case.pk and event.after["version"] == pol.version
    proposal = StrikeProposal.objects.get(decision=decision)
    assert proposal.live_strikes == 0 and proposal.step == 0
    assert proposal.proposed_outcomes == ["story.remove", "warning"] and not proposal.is_milder


def test_no_violation_records_no_strike_but_keeps_no_proposal_either():
    case = story_case()
    decide(case, violation=False)
    assert not Strike.objects.exists() and not StrikeProposal.objects.exists()


def test_a_decision_waiting_for_a_second_person_strikes_only_once_approved():
    case = story_case(partner=True)  # Partner Program accounts need four eyes
    decision = decide(case)
    assert decision.needs_approval and not Strike.objects.exists()
    review.approve_decision(decision=decision, approver=senior_moderator())
    assert Strike.objects.get().decision == decision
    assert StrikeProposal.objects.filter(decision=decision).exists()


def test_settling_twice_issues_once():
    decision = decide(story_case())
    assert strike_service.settle_strikes(decision=decision, actor=decision.decided_by) == Strike.objects.get()
    assert AuditEvent.objects.filter(verb="strike.issued").count() == 1


# Expiry -------------------------------------------------------------------------------


def test_a_strike_stops_counting_when_it_ends():
    decide(story_case(code="spam.clipped"))  # low severity: 90 days
    strike = Strike.objects.get()
    account_id = strike.account_id
    assert list(live_strikes(account_id=account_id, now=strike.expires_at - timedelta(seconds=1))) == [strike]
    assert not live_strikes(account_id=account_id, now=strike.expires_at).exists()
    assert writer_standing(account_id=account_id, now=strike.expires_at).count == 0
    later = propose(account_id=account_id, policy=policy("spam.duplicate"), now=strike.expires_at)
    assert later.live_count == 0 and later.step == 0


def test_strikes_issued_before_the_window_do_not_escalate():
    decision = decide(story_case())
    strike = Strike.objects.get()
    publish("spam.duplicate", escalation_window_days=30, strike_days=400)
    now = strike.issued_at + timedelta(days=31)
    assert strike.is_live(now)
    assert propose(account_id=decision.case.account_id, policy=policy("spam.duplicate"), now=now).live_count == 0


# Escalation ---------------------------------------------------------------------------


def test_a_second_strike_in_the_family_proposes_restriction_and_milder_needs_a_reason():
    first = decide(story_case(code="spam.duplicate"))
    account = first.case.account
    case = another_case(account, code="spam.templates")  # same family, other rule
    user = moderator()
    with pytest.raises(ValidationError) as exc:
        decide(case, user=user, outcomes=["story.remove"])
    assert "override_reason" in exc.value.message_dict
    assert "account.restrict" in exc.value.message_dict["override_reason"][0]
    assert Strike.objects.count() == 1
    second = decide(
        case, user=user, outcomes=["story.remove"], reason="First offence on this story; the account is new."
    )
    record = second.strike_proposal
    assert record.live_strikes == 1 and record.step == 1 and record.is_milder and not record.followed
    assert record.proposed_outcomes == ["story.remove", "account.restrict"]
    assert record.override_reason == "First offence on this story; the account is new."
    event = AuditEvent.objects.get(verb="strike.proposal_overridden")
    assert event.reason == record.override_reason and event.after["chosen"] == ["story.remove"]
    assert Strike.objects.filter(account=account).count() == 2


def test_following_the_proposal_needs_no_reason_and_the_third_strike_proposes_suspension():
    first = decide(story_case(code="spam.duplicate"))
    account = first.case.account
    second = decide(another_case(account), outcomes=["story.remove", "account.restrict"])
    assert second.strike_proposal.followed
    third_case = another_case(account)
    proposal = propose(account_id=account.pk, policy=policy("spam.duplicate"), now=timezone.now())
    assert proposal.live_count == 2 and proposal.step_outcomes == ["account.suspend"]
    assert [s.decision for s in proposal.counted] == [first, second]
    # Another family does not count.
    assert propose(account_id=account.pk, policy=policy("ai.seo_affiliate"), now=timezone.now()).live_count == 0
    assert third_case.pk


def test_a_strike_under_v1_counts_under_v2_and_the_ladder_is_the_version_in_force():
    first = decide(story_case(code="spam.duplicate"))
    v1_strike = Strike.objects.get()
    v2 = publish("spam.duplicate", escalation_ladder=[["warning"], ["account.suspend"]], strike_days=30)
    assert v2.version == v1_strike.policy.version + 1
    case = another_case(first.case.account, code="spam.duplicate")
    user = moderator()
    with pytest.raises(ValidationError) as exc:
        decide(case, user=user, outcomes=["story.remove", "account.restrict"])
    assert "account.suspend" in exc.value.message_dict["override_reason"][0]  # v2's ladder, not v1's restriction
    decision = decide(case, user=user, outcomes=["story.remove", "account.restrict"], reason="Restriction is enough.")
    if decision.needs_approval:
        review.approve_decision(decision=decision, approver=senior_moderator())
    record = decision.strike_proposal
    assert record.policy == v2 and record.counted_strike_ids == [v1_strike.pk]  # the older version's strike counts
    assert record.proposed_outcomes == ["story.remove", "account.suspend"]
    strike = decision.strikes.get()
    assert strike.policy == v2 and strike.expires_at - strike.issued_at == timedelta(days=30)
    v1_strike.refresh_from_db()
    assert v1_strike.policy.version < v2.version and v1_strike.expires_at - v1_strike.issued_at == timedelta(days=180)
    published = AuditEvent.objects.get(verb="policy.version_published", target_id=str(v2.pk))
    assert published.after["escalation_ladder"] == [["warning"], ["account.suspend"]]


def test_a_strike_of_another_rule_in_the_family_counts_too():
    first = decide(story_case(code="spam.duplicate"))
    proposal = propose(account_id=first.case.account_id, policy=policy("spam.templates"), now=timezone.now())
    assert proposal.live_count == 1 and proposal.step_outcomes == ["account.restrict"]


def test_a_ladder_outcome_the_rule_does_not_allow_is_refused_when_publishing():
    with pytest.raises(ValidationError):
        publish("ai.undisclosed_assisted", escalation_ladder=[["account.suspend"]])


# Undoing ------------------------------------------------------------------------------


def _applied_decision(case=None):
    decision = decide(case or story_case(code="spam.duplicate"))
    for action in decision.actions.all():
        apply(action)
    return decision


def test_an_overturned_appeal_voids_the_strike(run_on_commit):
    decision = _applied_decision()
    action = decision.actions.get()
    appeal = appeal_services.file_appeal(
        account=action.account, action=action, writer_statement="I wrote it once.", contact_email="w@example.com"
    )
    reviewer = appeals_reviewer()
    appeal_services.claim_next_appeal(user=reviewer)
    with run_on_commit():
        appeal_services.decide_appeal(
            appeal=appeal, actor=reviewer, outcome=AppealStatus.OVERTURNED, statement="We got it wrong."
        )
    strike = Strike.objects.get()
    assert strike.voided_at and strike.voided_by == reviewer
    assert strike.void_reason == f"Appeal #{appeal.pk} overturned"
    event = AuditEvent.objects.get(verb="strike.voided")
    assert event.appeal_ref == appeal.pk and event.case_ref == decision.case_id
    assert not live_strikes(account_id=decision.case.account_id).exists()
    assert propose(account_id=decision.case.account_id, policy=policy("spam.duplicate"), now=timezone.now()).step == 0


def test_an_upheld_appeal_keeps_the_strike(run_on_commit):
    decision = _applied_decision()
    action = decision.actions.get()
    appeal = appeal_services.file_appeal(
        account=action.account, action=action, writer_statement="I wrote it once.", contact_email="w@example.com"
    )
    reviewer = appeals_reviewer()
    appeal_services.claim_next_appeal(user=reviewer)
    with run_on_commit():
        appeal_services.decide_appeal(appeal=appeal, actor=reviewer, outcome=AppealStatus.UPHELD, statement="It stays.")
    assert Strike.objects.get().voided_at is None


def test_a_bulk_reversal_of_every_measure_voids_the_strike(run_on_commit):
    decision = _applied_decision()
    with run_on_commit():
        appeal_services.reverse_actions(
            actions=list(decision.actions.all()),
            actor=supervisor(),
            reason="detector recalled",
            writer_statement="A detector we use made mistakes.",
            cause=ReversalCause.RECALL,
        )
    assert Strike.objects.get().void_reason == "detector recalled"


def test_a_re_review_supersedes_the_earlier_strike_on_the_case():
    decision = decide(story_case())
    case = decision.case
    requeue_case(case=case, actor=supervisor(), reason="QA: not a duplicate")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    decide(case, violation=False)
    strike = Strike.objects.get()
    assert strike.voided_at and strike.void_reason.startswith("Superseded by decision #")
    assert not live_strikes(account_id=case.account_id).exists()


def test_voiding_is_idempotent():
    decision = decide(story_case())
    for _ in range(2):
        strike_service.void_decision_strike(decision_id=decision.pk, actor=supervisor(), reason="corrected")
    assert AuditEvent.objects.filter(verb="strike.voided").count() == 1


def test_the_database_holds_one_strike_per_decision_and_expiry_after_issue():
    from django.db import IntegrityError, transaction

    decision = decide(story_case())
    strike = Strike.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Strike.objects.create(
            account=strike.account,
            case=strike.case,
            decision=decision,
            policy=strike.policy,
            family="spam",
            severity=2,
            issued_at=strike.issued_at,
            expires_at=strike.expires_at,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Strike.objects.filter(pk=strike.pk).update(expires_at=strike.issued_at)


# What people see ----------------------------------------------------------------------


def test_the_writers_notice_counts_live_strikes_and_says_when_each_ends():
    first = decide(story_case(code="spam.duplicate"))
    decide(another_case(first.case.account), outcomes=["story.remove", "account.restrict"])
    notice = Notice.objects.filter(recipient_kind="writer").order_by("-id").first()
    ends = [f"{s.expires_at:%-d %B %Y}" for s in Strike.objects.order_by("expires_at")]
    assert "your account now has 2 live strikes." in notice.body
    for end in ends:
        assert f"Duplicate content: ends on {end}" in notice.body
    first_notice = Notice.objects.filter(recipient_kind="writer").order_by("id").first()
    assert "your account now has 1 live strike." in first_notice.body


def test_the_status_page_shows_live_strikes_and_their_end_dates(client):
    decision = _applied_decision()
    action = decision.actions.get()
    appeal = appeal_services.file_appeal(
        account=action.account, action=action, writer_statement="I wrote it once.", contact_email="w@example.com"
    )
    body = client.get(f"/appeal/status/{appeal.tracking_token}/").content.decode()
    strike = Strike.objects.get()
    assert "Your account has 1 live strike." in body
    assert f"Duplicate content: ends on {strike.expires_at:%-d %B %Y}" in body
    assert decision.decided_by.username not in body and decision.rationale not in body


def test_the_review_page_shows_strikes_and_the_proposal_and_asks_for_the_reason(client):
    first = decide(story_case(code="spam.duplicate"))
    old = Strike.objects.get()
    Strike.objects.filter(pk=old.pk).update(
        issued_at=old.issued_at - timedelta(days=400), expires_at=old.issued_at - timedelta(days=220)
    )
    decide(another_case(first.case.account))
    case = another_case(first.case.account)
    user = moderator()
    review.claim_case(user=user, case=case)
    client.force_login(user)
    url = reverse("review:case", args=[case.pk])
    body = client.get(url).content.decode()
    assert 'id="strikes"' in body and "1 live" in body and "strike-expired" in body
    assert "Proposed:</strong> Remove story, Restrict account" in body, "the proposal in words, not codes"
    assert 'form="decision-form"' in body
    post = {
        "is_violation": "yes",
        "policy": policy("spam.duplicate").pk,
        "outcomes": ["story.remove"],
        "rationale": "Copied again.",
        "statement": "Your story duplicates content you posted before.",
    }
    response = client.post(url, post)
    assert response.status_code == 400
    assert "say why you choose a milder outcome" in response.content.decode()
    response = client.post(url, {**post, "override_reason": "The restriction would hit a shared account."})
    assert response.status_code == 302
    assert StrikeProposal.objects.get(decision__case=case).is_milder


def test_supervisors_see_strikes_read_only_with_counts_in_the_admin(client):
    decide(story_case())
    client.force_login(supervisor())
    response = client.get("/admin/cases/strike/")
    assert response.status_code == 200
    assert 'id="strike-counts"' in response.content.decode()
    strike = Strike.objects.get()
    assert client.get(f"/admin/cases/strike/{strike.pk}/change/").status_code == 200
    assert client.post(f"/admin/cases/strike/{strike.pk}/change/", {}).status_code == 403
    assert strike_counts()["live"] == 1 and strike_counts()["by_family"] == {"spam": 1}


def test_a_rule_without_strikes_records_none():
    account = AccountFactory()
    story = StoryFactory(author=account)
    pol = policy("ai.disclosed_generated")
    case = CaseFactory(account=account, story=story, policy_family="ai", policy=pol, queue=QueueFactory())
    decide(case)
    assert not Strike.objects.exists()


def test_the_database_refuses_a_strike_for_a_decision_that_found_no_violation():
    """The service never issues one (settle_strikes); a raw write that bypasses it is
    refused by the database too, however the copied verdict is set."""
    from django.db import IntegrityError, transaction

    case = story_case()
    cleared = decide(case, violation=False)
    assert not cleared.is_violation and not Strike.objects.exists()
    pol = policy(case.policy.code)
    row = dict(
        account_id=case.account_id,
        case=case,
        decision=cleared,
        policy=pol,
        family=pol.family,
        severity=pol.severity,
        issued_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=90),
    )
    with pytest.raises(IntegrityError, match="strike_decision_verdict_fk"), transaction.atomic():
        Strike.objects.create(**row)
    with pytest.raises(IntegrityError, match="strike_only_for_a_violation"), transaction.atomic():
        Strike.objects.create(**row, decision_is_violation=False)
    assert not Strike.objects.exists()


def test_a_decision_with_a_strike_cannot_be_rewritten_as_no_violation():
    from django.db import IntegrityError, transaction

    from cases.models import Decision

    decision = decide(story_case())
    strike = Strike.objects.get(decision=decision)
    with pytest.raises(IntegrityError, match="strike_decision_verdict_fk"), transaction.atomic():
        Decision.objects.filter(pk=decision.pk).update(is_violation=False, policy=None, outcomes=[])
    with pytest.raises(IntegrityError, match="strike_decision_verdict_fk"), transaction.atomic():
        Strike.objects.filter(pk=strike.pk).update(decision=DecisionFactory(is_violation=False, policy=None))

"""The human gate, held by the database: attacks that go around the services (ORM
`.create`/`.update`, raw SQL) are refused on SQLite and PostgreSQL alike (run this file
with DATABASE_URL set for the second), and the enforcement job checks the same rule."""

from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from cases.models import ActionStatus, Decision, EnforcementAction, OutboxEntry, OutboxOperation
from cases.services import enforcement, review
from moderation.gate import FOUR_EYES_THRESHOLD_KEY, protected_reasons, sync_gate_data
from moderation.models import SEVERE_OUTCOMES, AccountStatus, GateSetting, Outcome, OutcomeKind
from tests.cases.review_factories import service_user, story_case
from tests.factories import AccountFactory, CaseFactory, StoryFactory, moderator, policy, senior_moderator

pytestmark = pytest.mark.django_db


@contextmanager
def refuses(match="human gate"):
    """The database refuses the write (the test's own transaction stays usable)."""
    with pytest.raises(IntegrityError, match=match), transaction.atomic():
        yield


def decision_on(case, outcomes, *, by=None, needs_approval=False, approver=None):
    return Decision.objects.create(
        case=case,
        decided_by=by or moderator(),
        is_violation=True,
        policy=case.policy,
        outcomes=outcomes,
        rationale="r",
        statement="s",
        needs_approval=needs_approval,
        approved_by=approver,
        approved_at=timezone.now() if approver else None,
        decided_at=timezone.now(),
    )


def raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def account_case(**account):
    return CaseFactory(account=AccountFactory(**account), policy=policy("engagement.ring"), policy_family="engagement")


# Attack 3a: an action the decision never chose ---------------------------------


def test_a_suspension_under_a_warning_decision_is_refused_however_it_is_written():
    case = account_case()
    warning = decision_on(case, ["warning"])
    with refuses("not one of the outcomes"):
        EnforcementAction.objects.create(
            case=case, decision=warning, account=case.account, outcome="account.suspend", status="approved"
        )
    sneaked = EnforcementAction.objects.create(
        case=case, decision=warning, account=case.account, outcome="account.suspend", status="proposed"
    )
    with refuses("not one of the outcomes"):
        EnforcementAction.objects.filter(pk=sneaked.pk).update(status="approved")
    with refuses("not one of the outcomes"):
        raw("UPDATE cases_enforcementaction SET status = 'approved' WHERE id = %s", [sneaked.pk])
    with refuses("not one of the outcomes|status moves"):  # straight to applied: both rules refuse it
        raw(
            "UPDATE cases_enforcementaction SET status = 'applied', applied_at = %s WHERE id = %s",
            [timezone.now(), sneaked.pk],
        )
    sneaked.refresh_from_db()
    assert sneaked.status == ActionStatus.PROPOSED


def test_an_approved_warning_cannot_be_turned_into_a_suspension_afterwards():
    case = account_case()
    warning = decision_on(case, ["warning"])
    action = EnforcementAction.objects.create(
        case=case, decision=warning, account=case.account, outcome="warning", status="approved"
    )
    with refuses("not one of the outcomes"):
        EnforcementAction.objects.filter(pk=action.pk).update(outcome="account.suspend")
    with refuses("needs a second person"):
        Decision.objects.filter(pk=warning.pk).update(outcomes=["warning", "account.suspend"])


def test_an_action_on_another_account_than_its_case_is_refused():
    case = account_case()
    decision = decision_on(case, ["account.restrict"])
    victim = AccountFactory()
    with refuses("not on its case and account"):
        EnforcementAction.objects.create(
            case=case, decision=decision, account=victim, outcome="account.restrict", status="approved"
        )


# Attack 3b: needs_approval chosen by the caller ----------------------------------


def test_a_severe_decision_that_says_it_needs_no_approval_is_refused():
    case = account_case()
    with refuses("needs a second person"):
        decision_on(case, ["account.suspend"], needs_approval=False)
    with refuses("needs a second person"):
        raw(
            "INSERT INTO cases_decision (case_id, decided_by_id, is_violation, policy_id, outcomes, rationale, "
            "statement, needs_approval, rejection_note, is_bulk, decided_at) "
            "VALUES (%s, %s, %s, %s, %s, 'r', 's', %s, '', %s, %s)",
            [case.pk, moderator().pk, True, case.policy_id, '["account.suspend"]', False, False, timezone.now()],
        )
    mild = decision_on(case, ["account.restrict"])
    with refuses("needs a second person"):
        Decision.objects.filter(pk=mild.pk).update(outcomes=["account.suspend"])
    assert [d.outcomes for d in Decision.objects.filter(case=case)] == [["account.restrict"]]


def test_a_severe_action_is_never_applied_without_a_second_person():
    case = account_case()
    waiting = decision_on(case, ["account.suspend"], needs_approval=True)
    with refuses():
        EnforcementAction.objects.create(
            case=case,
            decision=waiting,
            account=case.account,
            outcome="account.suspend",
            status="applied",
            applied_at=timezone.now(),
        )
    # Flip the flag back by raw SQL: the trigger re-derives it.
    with refuses("needs a second person"):
        raw("UPDATE cases_decision SET needs_approval = %s WHERE id = %s", [False, waiting.pk])


@pytest.mark.parametrize(
    "account, outcome",
    [
        ({"partner": True}, "paywall.remove"),
        ({"follower_count": 10_001}, "account.restrict"),
        ({"facts_pending": True}, "warning"),
    ],
    ids=["partner-program", "above-follower-threshold", "facts-pending"],
)
def test_protected_accounts_need_an_approver_who_is_not_the_decider(account, outcome):
    case = account_case(**account)
    decider = moderator()
    with refuses("needs a second person"):
        decision_on(case, [outcome], by=decider)
    decision = decision_on(case, [outcome], by=decider, needs_approval=True)
    with refuses("four eyes"):
        EnforcementAction.objects.create(
            case=case, decision=decision, account=case.account, outcome=outcome, status="approved"
        )
    with refuses("four_eyes_distinct"):
        Decision.objects.filter(pk=decision.pk).update(approved_by=decider, approved_at=timezone.now())
    Decision.objects.filter(pk=decision.pk).update(approved_by=senior_moderator(), approved_at=timezone.now())
    action = EnforcementAction.objects.create(
        case=case, decision=decision, account=case.account, outcome=outcome, status="approved"
    )
    assert action.status == ActionStatus.APPROVED


def test_a_warning_on_a_partner_needs_no_second_person_but_on_pending_facts_it_does():
    assert decision_on(account_case(partner=True), ["warning"]).pk
    with refuses("needs a second person"):
        decision_on(account_case(facts_pending=True), ["warning"])


def test_the_threshold_is_the_row_the_database_reads_and_it_follows_the_settings():
    case = account_case(follower_count=50)
    GateSetting.objects.filter(key=FOUR_EYES_THRESHOLD_KEY).update(value=10)
    assert protected_reasons(case.account, ["account.restrict"]) == ["account has more than 10 followers"]
    with refuses("needs a second person"):
        decision_on(case, ["account.restrict"])
    with override_settings(MODERATION={**_moderation(), "FOUR_EYES_FOLLOWER_THRESHOLD": 100}):
        sync_gate_data()
    assert GateSetting.objects.get(key=FOUR_EYES_THRESHOLD_KEY).value == 100
    assert decision_on(case, ["account.restrict"]).pk


def _moderation():
    from django.conf import settings

    return settings.MODERATION


def test_severity_rows_match_the_catalogue_and_an_unknown_outcome_counts_as_severe():
    rows = dict(OutcomeKind.objects.values_list("code", "is_severe"))
    assert rows == {o.value: o in SEVERE_OUTCOMES for o in Outcome}
    with refuses("needs a second person"):
        decision_on(account_case(), ["account.vanish"])


# Who decides -----------------------------------------------------------------------


def test_only_active_staff_people_decide_or_approve():
    case = account_case()
    with refuses("active staff person"):
        decision_on(case, ["warning"], by=moderator(is_staff=False))
    with refuses():
        decision_on(case, ["warning"], by=service_user())
    waiting = decision_on(case, ["account.suspend"], needs_approval=True)
    for approver in (senior_moderator(is_active=False), service_user("platform-bot")):
        with refuses():
            Decision.objects.filter(pk=waiting.pk).update(approved_by=approver, approved_at=timezone.now())


def test_a_decider_who_left_cannot_have_actions_applied_and_the_job_refuses_first():
    story = StoryFactory(is_paywalled=True)
    case = CaseFactory(account=story.author, story=story)
    decider = moderator()
    decision = decision_on(case, ["paywall.remove"], by=decider)
    action = EnforcementAction.objects.create(
        case=case, decision=decision, account=case.account, story=story, outcome="paywall.remove", status="approved"
    )
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    type(decider).objects.filter(pk=decider.pk).update(is_active=False)
    with refuses("not made by an active staff person"):
        EnforcementAction.objects.filter(pk=action.pk).update(status="applied", applied_at=timezone.now())
    enforcement.apply_action(action_id=action.pk)
    action.refresh_from_db()
    story.refresh_from_db()
    assert action.status == ActionStatus.FAILED and "not made by a person" in action.last_error
    assert story.is_paywalled


def test_the_job_rechecks_four_eyes_on_the_facts_it_reads_now():
    """Approved alone on an ordinary account; the platform then confirms a Partner
    Program membership: the job refuses before calling the platform."""
    case = account_case()
    decision = decision_on(case, ["account.restrict"])
    action = EnforcementAction.objects.create(
        case=case, decision=decision, account=case.account, outcome="account.restrict", status="approved"
    )
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    type(case.account).objects.filter(pk=case.account_id).update(
        partner_status="active", partner_enrolled_at=timezone.now()
    )
    enforcement.apply_action(action_id=action.pk)
    action.refresh_from_db()
    case.account.refresh_from_db()
    assert action.status == ActionStatus.FAILED and "second approval" in action.last_error
    assert case.account.status == AccountStatus.ACTIVE


def test_the_job_and_the_database_share_the_rule_for_an_action_outside_its_decision():
    case = account_case()
    decision = decision_on(case, ["warning"])
    stray = EnforcementAction(case=case, decision=decision, account=case.account, outcome="account.suspend")
    assert "not one of the outcomes" in enforcement.human_gate_problem(decision, stray)


# Services derive needs_approval -------------------------------------------------------


def test_a_decision_on_pending_facts_waits_for_a_second_person():
    case = story_case(code="spam.duplicate")
    type(case.account).objects.filter(pk=case.account_id).update(facts_pending=True)
    user = moderator()
    review.claim_case(user=user, case=case)
    decision = review.decide_case(
        case=case,
        user=user,
        data=review.DecisionInput(
            is_violation=True,
            policy=policy("spam.duplicate"),
            outcomes=["warning"],
            rationale="Same text as before.",
            statement="Your story duplicates content you posted before.",
        ),
    )
    assert decision.needs_approval
    assert not decision.actions.filter(status__in=["approved", "applied"]).exists()


GATE_TRIGGERS = {
    "sqlite": {
        *(
            f"cases_action_gate_{rule}_{op}"
            for rule in ("outcome", "decider", "four_eyes")
            for op in ("insert", "update")
        ),
        *(
            f"cases_decision_gate_{rule}_{op}"
            for rule in ("needs_approval", "decided_by", "approved_by")
            for op in ("insert", "update")
        ),
    },
    "postgresql": {"cases_action_four_eyes_gate", "cases_decision_four_eyes_gate"},
}


def test_the_gate_triggers_are_all_in_place_after_every_migration():
    """SQLite drops a table's triggers when a migration rebuilds the table (adding a
    column with a default): a later migration must put them back, or this fails."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        present = {name for (name,) in cursor.fetchall()}
    assert GATE_TRIGGERS[connection.vendor] <= present

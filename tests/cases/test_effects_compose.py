"""Applied actions that set the same attribute compose: reversing one leaves exactly what
the others still standing imply, over the platform's own value before the first of them."""

import contextlib
import itertools
import threading

import pytest
from django.db import close_old_connections, connection
from django.test import override_settings
from django.utils import timezone

from cases.models import ActionStatus, OutboxEntry, OutboxOperation, ReversalCause
from cases.services import enforcement
from moderation.models import AccountStatus, Distribution, PartnerStatus
from tests.factories import AccountFactory, CaseFactory, EnforcementActionFactory, StoryFactory, senior_moderator
from tests.moderation.test_platform import FakePlatform

pytestmark = pytest.mark.django_db

STATUS_RANK = {"active": 0, "restricted": 1, "suspended": 2}
STATUS_OF = {"account.restrict": "restricted", "account.suspend": "suspended"}


def apply(outcome, *, account=None, story=None):
    account = account or story.author
    case = CaseFactory(account=account, story=story, status="decided", decided_at=timezone.now())
    action = EnforcementActionFactory(decision__case=case, outcome=outcome)
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    applied = enforcement.apply_action(action_id=action.pk)
    assert applied.status == ActionStatus.APPLIED, applied.last_error
    return applied


def reverse(action, run_on_commit):
    with run_on_commit():
        enforcement.request_reversal(
            action=action, actor=senior_moderator(), reason="set right", cause=ReversalCause.CORRECTION
        )
    action.refresh_from_db()
    assert action.status == ActionStatus.REVERSED
    return action


def play(script, target, read, run_on_commit):
    """Run ("apply", name, outcome) / ("reverse", name) steps, checking `read()` after each."""
    actions = {}
    for step, expected in script:
        if step[0] == "apply":
            actions[step[1]] = apply(step[2], **target)
        else:
            reverse(actions[step[1]], run_on_commit)
        assert read() == expected, f"after {step}"


# Account status ------------------------------------------------------------------------


def status_of(account):
    return lambda: type(account).objects.get(pk=account.pk).status


def test_two_suspensions_one_reversed_the_account_stays_suspended(run_on_commit):
    account = AccountFactory()
    script = [
        (("apply", "a", "account.suspend"), "suspended"),
        (("apply", "b", "account.suspend"), "suspended"),
        (("reverse", "a"), "suspended"),
        (("reverse", "b"), "active"),
    ]
    play(script, {"account": account}, status_of(account), run_on_commit)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_three_status_actions_reversed_in_any_order_leave_the_strictest_remaining(order, run_on_commit):
    account = AccountFactory()
    outcomes = ["account.restrict", "account.suspend", "account.suspend"]
    actions = [apply(o, account=account) for o in outcomes]
    assert status_of(account)() == "suspended"
    remaining = set(range(3))
    for i in order:
        reverse(actions[i], run_on_commit)
        remaining.discard(i)
        expected = max(["active", *(STATUS_OF[outcomes[j]] for j in remaining)], key=STATUS_RANK.get)
        assert status_of(account)() == expected


def test_interleaved_status_actions(run_on_commit):
    account = AccountFactory()
    script = [
        (("apply", "a", "account.suspend"), "suspended"),
        (("apply", "b", "account.restrict"), "suspended"),
        (("reverse", "a"), "restricted"),
        (("apply", "c", "account.suspend"), "suspended"),
        (("reverse", "b"), "suspended"),
        (("apply", "d", "account.restrict"), "suspended"),
        (("reverse", "c"), "restricted"),
        (("reverse", "d"), "active"),
    ]
    play(script, {"account": account}, status_of(account), run_on_commit)


def test_the_baseline_is_the_platforms_own_status_before_the_first_standing_action(run_on_commit):
    account = AccountFactory(status=AccountStatus.RESTRICTED)
    script = [
        (("apply", "a", "account.suspend"), "suspended"),
        (("apply", "b", "account.suspend"), "suspended"),
        (("reverse", "a"), "suspended"),
        (("apply", "c", "account.suspend"), "suspended"),
        (("reverse", "b"), "suspended"),
        (("reverse", "c"), "restricted"),
    ]
    play(script, {"account": account}, status_of(account), run_on_commit)


def test_a_reversal_after_the_platform_changed_the_status_itself_leaves_the_platforms_value(run_on_commit):
    account = AccountFactory()
    action = apply("account.suspend", account=account)
    type(account).objects.filter(pk=account.pk).update(status=AccountStatus.ACTIVE)  # the platform reinstated it
    reversed_action = reverse(action, run_on_commit)
    assert status_of(account)() == "active"
    assert "changed since" in reversed_action.effect["reversal"]["account_status"]["skipped"]


def test_a_reversal_records_which_actions_still_stand(run_on_commit):
    account = AccountFactory()
    a = apply("account.suspend", account=account)
    b = apply("account.suspend", account=account)
    a = reverse(a, run_on_commit)
    assert a.effect["reversal"]["account_status"] == {
        "id": account.pk,
        "restored": "suspended",
        "standing": [b.idempotency_key],
    }
    assert b.effect["account_status"]["baseline"] == "active"


def test_another_accounts_actions_do_not_count(run_on_commit):
    account, other = AccountFactory(), AccountFactory()
    a = apply("account.suspend", account=account)
    apply("account.suspend", account=other)
    reverse(a, run_on_commit)
    assert status_of(account)() == "active"
    assert status_of(other)() == "suspended"


# Stories ---------------------------------------------------------------------------------


def field_of(story, name):
    return lambda: getattr(type(story).objects.get(pk=story.pk), name)


def test_distribution_is_the_strictest_remaining(run_on_commit):
    story = StoryFactory()
    script = [
        (("apply", "a", "distribution.network_only"), Distribution.NETWORK_ONLY),
        (("apply", "b", "distribution.no_boost"), Distribution.NETWORK_ONLY),
        (("reverse", "a"), Distribution.NO_BOOST),
        (("apply", "c", "distribution.network_only"), Distribution.NETWORK_ONLY),
        (("reverse", "b"), Distribution.NETWORK_ONLY),
        (("apply", "d", "distribution.no_boost"), Distribution.NETWORK_ONLY),
        (("reverse", "c"), Distribution.NO_BOOST),
        (("reverse", "d"), Distribution.GENERAL),
    ]
    play(script, {"story": story}, field_of(story, "distribution"), run_on_commit)


def test_restoring_general_distribution_lifts_the_platforms_limit_never_another_action(run_on_commit):
    story = StoryFactory(distribution=Distribution.NO_BOOST)
    script = [
        (("apply", "g", "distribution.general"), Distribution.GENERAL),
        (("apply", "n", "distribution.network_only"), Distribution.NETWORK_ONLY),
        (("reverse", "g"), Distribution.NETWORK_ONLY),
        (("reverse", "n"), Distribution.NO_BOOST),
    ]
    play(script, {"story": story}, field_of(story, "distribution"), run_on_commit)


@pytest.mark.parametrize(
    ("outcome", "name", "before", "after"),
    [("paywall.remove", "is_paywalled", True, False), ("story.remove", "is_removed", False, True)],
)
def test_paywall_and_removal_hold_while_any_action_stands(outcome, name, before, after, run_on_commit):
    story = StoryFactory(is_paywalled=True)
    script = [
        (("apply", "a", outcome), after),
        (("apply", "b", outcome), after),
        (("reverse", "a"), after),
        (("apply", "c", outcome), after),
        (("reverse", "b"), after),
        (("reverse", "c"), before),
        (("apply", "d", outcome), after),
        (("apply", "e", outcome), after),
        (("apply", "f", outcome), after),
        (("reverse", "e"), after),
        (("reverse", "f"), after),
        (("reverse", "d"), before),
    ]
    play(script, {"story": story}, field_of(story, name), run_on_commit)


def test_story_actions_on_a_sibling_story_do_not_count(run_on_commit):
    story = StoryFactory(is_paywalled=True)
    sibling = StoryFactory(author=story.author, is_paywalled=True)
    a = apply("paywall.remove", story=story)
    apply("paywall.remove", story=sibling)
    reverse(a, run_on_commit)
    assert field_of(story, "is_paywalled")() is True
    assert field_of(sibling, "is_paywalled")() is False


# Partner Program ------------------------------------------------------------------------


def test_partner_stays_revoked_while_another_revocation_stands_then_gets_its_enrolment_back(run_on_commit):
    account = AccountFactory(partner=True)
    enrolled = account.partner_enrolled_at
    a = apply("partner.revoke", account=account)
    account.refresh_from_db()
    revoked_at = account.partner_revoked_at
    b = apply("partner.revoke", account=account)
    reverse(a, run_on_commit)
    account.refresh_from_db()
    assert account.partner_status == PartnerStatus.REVOKED and account.partner_revoked_at == revoked_at
    c = apply("partner.revoke", account=account)
    reverse(b, run_on_commit)
    account.refresh_from_db()
    assert account.partner_status == PartnerStatus.REVOKED
    reverse(c, run_on_commit)
    account.refresh_from_db()
    assert account.partner_status == PartnerStatus.ACTIVE
    assert account.partner_enrolled_at == enrolled and account.partner_revoked_at is None


def test_partner_status_and_earnings_holds_are_separate(run_on_commit):
    account = AccountFactory(partner=True)
    revoke = apply("partner.revoke", account=account)
    hold = apply("partner.earnings_hold", account=account)
    reverse(revoke, run_on_commit)
    account.refresh_from_db()
    assert account.partner_status == PartnerStatus.ACTIVE
    assert account.earnings_holds.get().released_at is None
    reverse(hold, run_on_commit)
    assert account.earnings_holds.get().released_at is not None


# The remote platform hears the same ------------------------------------------------------


def test_the_http_adapter_sends_the_standing_actions_with_every_apply_and_reversal(run_on_commit):
    from django.conf import settings

    account = AccountFactory()
    with FakePlatform([]) as platform:
        conf = {
            **settings.MODERATION,
            "PLATFORM_ADAPTER": "moderation.platform.HttpPlatformAdapter",
            "PLATFORM_URL": platform.url,
            "PLATFORM_RETRY_BACKOFF": 0,
        }
        with override_settings(MODERATION=conf):
            a = apply("account.suspend", account=account)
            b = apply("account.restrict", account=account)
            reverse(a, run_on_commit)
    (_, _, first), (_, _, second), (path, key, third) = platform.requests
    assert first["params"]["standing"] == []
    assert [s["key"] for s in second["params"]["standing"]] == [a.idempotency_key]
    assert (path, key) == ("/actions/reverse", f"{a.idempotency_key}-reverse")
    b.refresh_from_db()
    assert "platform" in b.effect  # the platform's reply stays on the action, not in what is sent on
    own = {k: v for k, v in b.effect.items() if k != "platform"}
    standing = [{"key": b.idempotency_key, "outcome": "account.restrict", "effect": own}]
    assert third["params"]["standing"] == standing
    assert third["effect"]["account_status"]["baseline"] == "active"
    assert status_of(account)() == "restricted"


# Concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_suspensions_reversed_at_the_same_moment_leave_the_account_active(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL")
    account = AccountFactory()
    actions = [apply("account.suspend", account=account) for _ in range(2)]
    boss = senior_moderator()
    with monkeypatch.context() as queued_only:
        queued_only.setattr(enforcement, "enqueue", lambda *args, **kwargs: None)
        for action in actions:
            enforcement.request_reversal(action=action, actor=boss, reason="both wrong")
    barrier = threading.Barrier(2)
    # Hold each worker just after it read what stands: without the account's row lock
    # both would read the other suspension as standing and leave the account suspended.
    gate = threading.Barrier(2)
    read_standing = enforcement._standing_params

    def slow_read(action):
        standing = read_standing(action)
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=2)
        return standing

    monkeypatch.setattr(enforcement, "_standing_params", slow_read)
    errors = []

    def run(action_id):
        try:
            barrier.wait()
            enforcement.reverse_action(action_id=action_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(a.pk,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert status_of(account)() == "active"
    assert {a.status for a in type(actions[0]).objects.filter(pk__in=[a.pk for a in actions])} == {"reversed"}

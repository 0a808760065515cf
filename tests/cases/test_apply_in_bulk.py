"""A batch job applies approved actions a group per transaction (issue 16: 10,000 actions
with 2 workers in a minute): leased together, applied set-based, and still each action
once, with its own entry, attempt and audit row. A worker dying mid-batch leaves only
the actions it had not applied; workers racing over one batch never apply one twice."""

import random
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from django.test import override_settings
from django.utils import timezone

from cases.jobs import apply_actions_job
from cases.models import ActionStatus, EnforcementAction, OutboxEntry, OutboxOperation, ReversalCause
from cases.services import enforcement
from moderation.models import Account, AuditEvent, Story
from moderation.platform import LocalPlatformAdapter
from tests.factories import AccountFactory, CaseFactory, EnforcementActionFactory, StoryFactory, senior_moderator

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """Stands for the process being killed: nothing after it runs in that worker."""


class RecordingPlatform(LocalPlatformAdapter):
    """The local adapter, recording each action it is asked to apply (by idempotency
    key, as the platform sees it) and dying when it reaches `die_at` the first time."""

    calls: list[str] = []
    die_at: str | None = None
    lock = threading.Lock()

    def apply_many(self, commands):
        with self.lock:
            for command in commands:
                if command.idempotency_key == RecordingPlatform.die_at:
                    RecordingPlatform.die_at = None
                    raise WorkerDied
                RecordingPlatform.calls.append(command.idempotency_key)
        return super().apply_many(commands)


@pytest.fixture
def platform():
    RecordingPlatform.calls, RecordingPlatform.die_at = [], None
    conf = {**settings.MODERATION, "PLATFORM_ADAPTER": f"{__name__}.RecordingPlatform"}
    with override_settings(MODERATION={**conf, "OUTBOX_APPLY_PER_COMMIT": 2}):
        yield RecordingPlatform


def restrictions(n):
    actions = [
        EnforcementActionFactory(decision__case=CaseFactory(story=None), outcome="account.restrict") for _ in range(n)
    ]
    OutboxEntry.objects.bulk_create([OutboxEntry(action=a, operation=OutboxOperation.APPLY) for a in actions])
    return [a.pk for a in actions]


def entries(ids):
    return {e.action_id: e for e in OutboxEntry.objects.filter(action_id__in=ids, operation=OutboxOperation.APPLY)}


def applied_events(ids):
    rows = AuditEvent.objects.filter(verb="action.applied", target_id__in=[str(pk) for pk in ids])
    return sorted(int(pk) for pk in rows.values_list("target_id", flat=True))


def test_a_batch_applies_every_action_once_with_its_own_entry_attempt_and_audit_row(platform):
    ids = restrictions(5)
    assert apply_actions_job(ids) == 5
    assert apply_actions_job(ids) == 0  # twice is once
    assert platform.calls == [f"action-{pk}" for pk in ids]
    actions = EnforcementAction.objects.filter(pk__in=ids).select_related("account")
    assert {(a.status, a.attempts, a.account.status) for a in actions} == {("applied", 1, "restricted")}
    assert {(e.state(), e.attempts, e.lease_token) for e in entries(ids).values()} == {("done", 1, "")}
    assert applied_events(ids) == ids
    event = AuditEvent.objects.get(verb="action.applied", target_id=str(ids[0]))
    action = actions.get(pk=ids[0])
    assert event.before == {"status": "approved"}
    assert event.after["status"] == "applied" and event.after["effect"] == action.effect
    assert event.reason.startswith(f"decision #{action.decision_id} by ") and event.case_ref == action.case_id


def test_a_worker_dying_mid_batch_leaves_only_the_unapplied_actions_for_the_next_lease(platform, run_on_commit):
    ids = restrictions(6)
    platform.die_at = f"action-{ids[4]}"  # the third group of two
    with pytest.raises(WorkerDied):
        apply_actions_job(ids)
    done, left = ids[:4], ids[4:]
    assert set(EnforcementAction.objects.filter(status="applied").values_list("pk", flat=True)) == set(done)
    held = entries(ids)
    assert {held[pk].state() for pk in done} == {"done"}
    # Still leased by the dead worker: not handed to anyone before the lease runs out.
    assert {(held[pk].state(), held[pk].attempts) for pk in left} == {("running", 1)}
    assert enforcement.drain_outbox(older_than=timedelta(0)) == 0

    OutboxEntry.objects.filter(action_id__in=left).update(leased_until=timezone.now() - timedelta(seconds=1))
    platform.calls.clear()
    with run_on_commit():
        assert enforcement.drain_outbox(older_than=timedelta(0)) == 2
    assert sorted(platform.calls) == sorted(f"action-{pk}" for pk in left)  # only what was not applied
    assert EnforcementAction.objects.filter(pk__in=ids, status="applied").count() == 6
    assert applied_events(ids) == ids  # each once
    held = entries(ids)
    assert [held[pk].attempts for pk in ids] == [1, 1, 1, 1, 2, 2]
    assert {e.state() for e in held.values()} == {"done"}


def test_a_group_that_breaks_is_tried_one_by_one_so_only_the_broken_action_waits(platform):
    ids = restrictions(4)
    Account.objects.filter(pk=EnforcementAction.objects.get(pk=ids[1]).account_id).update(status="bogus")
    assert apply_actions_job(ids) == 3
    held = entries(ids)
    broken = held[ids[1]]
    assert EnforcementAction.objects.get(pk=ids[1]).status == ActionStatus.APPROVED
    assert broken.state() == "retrying" and broken.next_attempt_at > timezone.now() and broken.last_error
    assert {held[pk].state() for pk in ids if pk != ids[1]} == {"done"}
    # Alone in its job (as the drain resends it), it breaks the same way, without taking the job down.
    assert apply_actions_job([ids[1]]) == 0
    assert (entries(ids)[ids[1]].state(), entries(ids)[ids[1]].attempts) == ("retrying", 2)


def test_composing_actions_in_one_batch_end_as_applied_one_at_a_time(run_on_commit):
    """Two suspensions and a restriction of one account, three distribution changes and
    a removal of one story, in one batch, give the state and effects of the same actions
    applied one by one, and reversing them all gives back the platform's own values."""
    outcomes = [
        "account.restrict",
        "distribution.no_boost",
        "account.suspend",
        "story.remove",
        "distribution.network_only",
        "account.suspend",
        "distribution.general",
    ]

    def stage():
        story = StoryFactory()
        actions = []
        for outcome in outcomes:
            case = CaseFactory(account=story.author, story=story, status="decided", decided_at=timezone.now())
            actions.append(EnforcementActionFactory(decision__case=case, outcome=outcome))
        OutboxEntry.objects.bulk_create([OutboxEntry(action=a, operation=OutboxOperation.APPLY) for a in actions])
        return story, [a.pk for a in actions]

    def state(story):
        story = Story.objects.select_related("author").get(pk=story.pk)
        return story.author.status, story.distribution, story.is_removed

    def effects(ids):
        def plain(value):
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items() if k != "id"}
            return value

        rows = EnforcementAction.objects.filter(pk__in=ids).order_by("pk")
        return [(a.status, plain(a.effect)) for a in rows]

    one_story, one_ids = stage()
    for pk in one_ids:
        enforcement.apply_action(action_id=pk)
    batch_story, batch_ids = stage()
    before = state(batch_story)
    assert apply_actions_job(batch_ids) == len(outcomes)

    assert state(batch_story) == state(one_story) == ("suspended", "network_only", True)
    assert effects(batch_ids) == effects(one_ids)
    boss = senior_moderator()
    for pk in reversed(batch_ids):
        with run_on_commit():
            enforcement.request_reversal(
                action=EnforcementAction.objects.get(pk=pk),
                actor=boss,
                reason="set right",
                cause=ReversalCause.CORRECTION,
            )
    assert state(batch_story) == before


@pytest.mark.django_db(transaction=True)
def test_eight_workers_on_overlapping_batches_never_apply_an_action_twice(platform):
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL")
    ids = restrictions(40)
    also_shared = AccountFactory()  # two actions on one account: its row lock serialises them
    for _ in range(2):
        case = CaseFactory(account=also_shared, story=None, status="decided", decided_at=timezone.now())
        action = EnforcementActionFactory(decision__case=case, outcome="account.suspend")
        OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
        ids.append(action.pk)
    barrier = threading.Barrier(8)
    counts, errors = [], []

    def work(seed):
        batch = random.Random(seed).sample(ids, 30)
        try:
            barrier.wait()
            counts.append(apply_actions_job(batch))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    with override_settings(MODERATION={**settings.MODERATION, "OUTBOX_APPLY_PER_COMMIT": 3}):
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    applied = set(EnforcementAction.objects.filter(pk__in=ids, status="applied").values_list("pk", flat=True))
    assert sum(counts) == len(applied)
    assert sorted(platform.calls) == sorted(f"action-{pk}" for pk in applied)  # once each
    assert applied_events(ids) == sorted(applied)
    # What no sampled batch reached stays approved and due, never half-done.
    for pk, entry in entries(ids).items():
        assert (entry.state(), entry.attempts) == (("done", 1) if pk in applied else ("pending", 0))
    if applied & set(ids[-2:]):
        assert Account.objects.get(pk=also_shared.pk).status == "suspended"

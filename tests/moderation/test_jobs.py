"""The one door for background work: after commit, inline without Redis, real RQ with it."""

import os

import pytest
from django.db import transaction
from django.test import override_settings

from cases import jobs
from cases.models import ActionStatus, OutboxEntry, OutboxOperation
from moderation.jobs import enqueue
from moderation.models import StoryKind
from tests.factories import EnforcementActionFactory, StoryFactory

pytestmark = pytest.mark.django_db


def _paywall_action():
    story = StoryFactory(kind=StoryKind.STORY, is_paywalled=True)
    action = EnforcementActionFactory(outcome="paywall.remove", story=story, decision__case__account=story.author)
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    return action, story


def test_inline_jobs_run_only_after_the_transaction_commits(django_capture_on_commit_callbacks):
    action, story = _paywall_action()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        enqueue(jobs.apply_action_job, action.pk, queue="enforcement")
        story.refresh_from_db()
        assert story.is_paywalled, "the job must not run before commit"
    story.refresh_from_db()
    action.refresh_from_db()
    assert not story.is_paywalled
    assert action.status == ActionStatus.APPLIED


def test_a_rolled_back_transaction_enqueues_nothing(django_capture_on_commit_callbacks):
    action, story = _paywall_action()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                enqueue(jobs.apply_action_job, action.pk, queue="enforcement")
                raise RuntimeError("the decision failed")
        except RuntimeError:
            pass
    assert callbacks == []
    story.refresh_from_db()
    assert story.is_paywalled


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="real RQ queues need REDIS_URL (CI sets it)")
def test_with_redis_the_job_goes_through_a_real_queue_and_a_worker_applies_it(django_capture_on_commit_callbacks):
    import django_rq
    from rq import SimpleWorker

    action, story = _paywall_action()
    queue = django_rq.get_queue("enforcement")
    queue.empty()
    with override_settings(JOBS_RUN_INLINE=False), django_capture_on_commit_callbacks(execute=True):
        enqueue(jobs.apply_action_job, action.pk, queue="enforcement")
    story.refresh_from_db()
    assert story.is_paywalled, "queued, not yet worked"
    assert queue.count == 1
    worker = django_rq.get_worker("enforcement", worker_class=SimpleWorker)
    assert worker.work(burst=True)
    story.refresh_from_db()
    action.refresh_from_db()
    assert not story.is_paywalled
    assert action.status == ActionStatus.APPLIED
    assert queue.count == 0


RAN: list[int] = []


def note_run(n: int) -> None:
    RAN.append(n)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="real RQ queues need REDIS_URL (CI sets it)")
def test_the_jobs_of_one_transaction_go_to_redis_together_and_each_runs_once(django_capture_on_commit_callbacks):
    import django_rq
    from rq import SimpleWorker

    from moderation.models import BackgroundJob

    RAN.clear()
    queue = django_rq.get_queue("default")
    queue.empty()
    with (
        override_settings(JOBS_RUN_INLINE=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        for n in range(30):
            enqueue(note_run, n)
        try:
            with transaction.atomic():
                enqueue(note_run, 99)
                raise RuntimeError("this part of the intake failed")
        except RuntimeError:
            pass
    assert len(callbacks) == 1, "one hand-over for the transaction, not one a job"
    jobs = BackgroundJob.objects.filter(func__endswith="note_run")
    assert jobs.count() == 30
    assert not jobs.filter(enqueued_at__isnull=True).exists(), "every row marked handed over"
    assert queue.count == 31, "the rolled-back job rides along"
    assert django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)
    assert sorted(RAN) == list(range(30)), "the rolled-back job is skipped, the others run once"
    assert jobs.filter(done_at__isnull=False).count() == 30


def test_jobs_recorded_together_are_one_insert_in_the_same_transaction(django_assert_num_queries):
    """A chunk of signals opening 125 cases records 125 evidence jobs: one INSERT."""
    from moderation.models import BackgroundJob
    from moderation.outbox import record, recorded_together

    jobs = BackgroundJob.objects.filter(func__endswith="note_run")
    with override_settings(JOBS_RUN_INLINE=False), transaction.atomic():
        with django_assert_num_queries(2), recorded_together():
            for n in range(25):
                record(note_run, (n,))
            assert not jobs.exists(), "written as the block ends"
        assert [job.args for job in jobs.order_by("id")] == [[n] for n in range(25)]
        assert transaction.get_connection().in_atomic_block, "still inside the caller's transaction"


def test_jobs_recorded_together_go_with_the_transaction_that_rolls_back():
    from moderation.models import BackgroundJob
    from moderation.outbox import record, recorded_together

    with override_settings(JOBS_RUN_INLINE=False):
        for where in ("inside the block", "after the block"):
            try:
                with transaction.atomic():
                    with recorded_together():
                        record(note_run, (where,))
                        if where == "inside the block":
                            raise RuntimeError(where)
                    raise RuntimeError(where)
            except RuntimeError:
                pass
        with transaction.atomic(), recorded_together():
            record(note_run, ("committed",))
    assert [job.args for job in BackgroundJob.objects.filter(func__endswith="note_run")] == [["committed"]]


def test_a_keyed_job_recorded_together_still_stands_for_its_key():
    from moderation.models import BackgroundJob
    from moderation.outbox import record, recorded_together

    with override_settings(JOBS_RUN_INLINE=False), transaction.atomic(), recorded_together():
        first = record(note_run, (1,), key="once")
        again = record(note_run, (2,), key="once")
    assert first is not None and again is None
    assert BackgroundJob.objects.filter(key="once").count() == 1

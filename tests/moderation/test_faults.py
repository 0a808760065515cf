"""Faults: Redis down, a job a worker is running, a database connection killed.

Redis is "down" by pointing django-rq at a closed port (127.0.0.1:6390) and "back" by
swapping in an in-memory Redis (fakeredis); a `SimpleWorker` in this process works its
queues. Nothing is lost, nothing is done twice, and no request answers 500.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import fakeredis
import pytest
import redis
from django.core import mail
from django.db import OperationalError, connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rq import SimpleWorker

from cases.models import CaseStatus, Notice, Signal
from moderation import outbox
from moderation.jobs import QUEUE_PRIORITY, enqueue
from moderation.middleware.faults import is_connection_loss
from moderation.models import AuditEvent, BackgroundJob
from tests.cases.intake_helpers import detector_hit_body, make_client
from tests.cases.review_factories import detector_signal, story_case
from tests.factories import StoryFactory, moderator, policy

pytestmark = pytest.mark.django_db
CLOSED_PORT = 6390


class SwitchableRedis:
    """Every Redis connection django-rq opens: a closed port while down, one in-memory
    server while up."""

    def __init__(self, monkeypatch):
        self.server = fakeredis.FakeServer()
        self.up = False
        monkeypatch.setattr(redis.Redis, "from_url", classmethod(lambda cls, *a, **kw: self.connection()))

    def connection(self):
        if self.up:
            return fakeredis.FakeRedis(server=self.server)
        return redis.Redis(host="127.0.0.1", port=CLOSED_PORT, socket_connect_timeout=0.5)

    def work(self) -> None:
        import django_rq

        queues = [django_rq.get_queue(name) for name in QUEUE_PRIORITY]
        SimpleWorker(queues, connection=self.connection()).work(burst=True)

    def queued(self) -> int:
        import django_rq

        return sum(django_rq.get_queue(name).count for name in QUEUE_PRIORITY)


DEAD_CACHE = {
    "default": {
        "BACKEND": "moderation.cache.FailSoftRedisCache",
        "LOCATION": f"redis://127.0.0.1:{CLOSED_PORT}/0",
        "OPTIONS": {"socket_connect_timeout": 0.5},
    }
}


@pytest.fixture
def redis_switch(monkeypatch):
    with override_settings(JOBS_RUN_INLINE=False):
        yield SwitchableRedis(monkeypatch)


def test_the_cache_reads_a_redis_outage_as_empty():
    from django.core.cache import cache

    with override_settings(CACHES=DEAD_CACHE):
        assert cache.get("k", "fallback") == "fallback"
        assert cache.add("k", 1) is True and cache.incr("k") == 1
        cache.set("k", 2)
        assert cache.get_many(["k"]) == {}


def later(seconds=120):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_signal_batch_is_stored_while_redis_is_down_and_its_jobs_wait(redis_switch, run_on_commit):
    _, key = make_client("ai-detector")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    story = StoryFactory(is_paywalled=True)
    hit = {
        "source": "detector",
        "account": story.author.platform_id,
        "story": story.platform_id,
        "policy": "ai.paywalled_generated",
        "detector": {"name": "ai-text-classifier", "version": "2.3.0"},
        "score": 0.91,
    }
    with override_settings(CACHES=DEAD_CACHE), run_on_commit():  # throttles count in Redis too
        response = api.post("/api/v1/signals/", [{**hit, "idempotency_key": f"k{i}"} for i in range(3)], format="json")
    assert response.status_code in (200, 201), response.content
    assert Signal.objects.filter(idempotency_key__in=["k0", "k1", "k2"]).count() == 3
    waiting = outbox.open_jobs()
    assert waiting.exists() and not waiting.filter(enqueued_at__isnull=False).exists()

    redis_switch.up = True
    assert outbox.drain_jobs(now=later()) == waiting.count()
    redis_switch.work()
    assert not outbox.open_jobs().exists()


def _decide_over_http(client, case, signal):
    form = {
        "is_violation": "yes",
        "policy": policy("spam.duplicate").pk,
        "outcomes": ["story.remove"],
        "rationale": "Duplicate of last week's story.",
        "statement": "This story repeats one you already posted.",
        f"detector_{signal.pk}": "right",
        "hold_days": 30,
    }
    return client.post(reverse("review:case", args=[case.pk]), form)


def test_a_decision_while_redis_is_down_succeeds_and_its_notice_leaves_once_when_redis_is_back(
    client, redis_switch, run_on_commit
):
    case = story_case(code="spam.duplicate")
    signal = detector_signal(case, policy=policy("spam.duplicate"))
    client.force_login(moderator())
    assert client.post(reverse("review:next", args=[case.queue.slug])).status_code == 302
    with run_on_commit():
        response = _decide_over_http(client, case, signal)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.DECIDED
    notice = Notice.objects.get(case=case, recipient_kind="writer")
    assert notice.emailed_at is None and mail.outbox == []
    assert not AuditEvent.objects.filter(verb="notice.sent", target_id=str(notice.pk)).exists()
    email_job = BackgroundJob.objects.get(func="cases.jobs.send_notice_job", args=[notice.pk])
    assert email_job.queue == "email" and email_job.enqueued_at is None

    # Redis comes back: nothing moves before the drain hands the jobs over.
    redis_switch.up = True
    assert outbox.drain_jobs() == 0, "still within the hand-over grace"
    assert outbox.drain_jobs(now=later()) >= 1
    redis_switch.work()
    notice.refresh_from_db()
    assert notice.emailed_at is not None and notice.email_attempts == 1
    assert [m.to for m in mail.outbox] == [[case.account.email]]
    assert AuditEvent.objects.filter(verb="notice.sent", target_id=str(notice.pk)).count() == 1

    # Draining and working again sends nothing twice.
    outbox.drain_jobs(now=later(3600))
    redis_switch.work()
    assert len(mail.outbox) == 1


def test_a_failed_email_is_retried_with_backoff_then_given_up_where_a_supervisor_sees_it(
    redis_switch, run_on_commit, monkeypatch, client
):
    from cases import notices

    case = story_case(code="spam.duplicate")
    notice = Notice.objects.create(
        case=case, recipient_kind="writer", account=case.account, email="w@example.com", subject="s", body="b",
        sent_at=timezone.now(),
    )  # fmt: skip
    monkeypatch.setattr(notices, "send_mail", lambda *a, **kw: (_ for _ in ()).throw(OSError("SMTP refused")))
    redis_switch.up = True
    with override_settings(BACKGROUND_JOBS={"MAX_ATTEMPTS": 2, "RETRY_BACKOFF_SECONDS": 10}), run_on_commit():
        from cases import jobs

        enqueue(jobs.send_notice_job, notice.pk, queue="email")
    with override_settings(BACKGROUND_JOBS={"MAX_ATTEMPTS": 2, "RETRY_BACKOFF_SECONDS": 10}):
        redis_switch.work()
        job = BackgroundJob.objects.get(func="cases.jobs.send_notice_job")
        assert job.attempts == 1 and "SMTP refused" in job.last_error and job.gave_up_at is None
        assert job.next_attempt_at > timezone.now() + timedelta(seconds=5), "backoff"
        assert outbox.drain_jobs() == 0
        assert outbox.drain_jobs(now=later(20)) == 1
        redis_switch.work()
    job.refresh_from_db()
    notice.refresh_from_db()
    assert job.gave_up_at is not None and job.state() == "gave_up"
    assert notice.emailed_at is None and notice.email_attempts == 2

    from tests.factories import supervisor

    boss = supervisor()
    client.force_login(boss)
    home = client.get("/admin/").content.decode()
    assert "1 background job gave up" in home
    monkeypatch.setattr(notices, "send_mail", lambda *a, **kw: 1)
    with run_on_commit():
        response = client.post(
            reverse("admin:moderation_backgroundjob_changelist"), {"action": "retry_jobs", "_selected_action": [job.pk]}
        )
    assert response.status_code == 302
    redis_switch.work()
    job.refresh_from_db()
    notice.refresh_from_db()
    assert job.done_at and notice.emailed_at
    assert AuditEvent.objects.filter(verb="job.retried", target_id=str(job.pk)).exists()


def test_a_keyed_job_is_recorded_once_while_open(redis_switch, run_on_commit):
    from appeals import jobs

    with run_on_commit():
        for _ in range(3):
            enqueue(jobs.restore_follower_edges, 7, queue="restoration", key="restore-followers-7")
    assert BackgroundJob.objects.filter(key="restore-followers-7").count() == 1


# Leases: two workers -------------------------------------------------------------------

RUNS: list[int] = []


def slow_job(seconds: float) -> None:
    RUNS.append(threading.get_ident())
    time.sleep(seconds)


@pytest.mark.django_db(transaction=True)
def test_a_job_a_worker_is_running_is_not_handed_to_a_second_worker(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("two worker threads on one database need PostgreSQL")
    RUNS.clear()
    handed = []
    monkeypatch.setattr(outbox, "hand_over", lambda pk, queue: handed.append(pk) or True)
    with override_settings(JOBS_RUN_INLINE=False, BACKGROUND_JOBS={"LEASE_SECONDS": 0.4}):
        job = outbox.record(slow_job, [1.5])
        results = []

        def worker():
            results.append(outbox.run_job(job.pk))
            connection.close()

        first = threading.Thread(target=worker)
        first.start()
        time.sleep(0.5)  # past the first lease: only the heartbeat keeps it
        second = threading.Thread(target=worker)
        second.start()
        second.join()
        handed.clear()
        assert outbox.drain_jobs(now=timezone.now() + timedelta(seconds=0.1)) == 0
        first.join()
    assert sorted(results) == ["done", "skipped"]
    assert len(RUNS) == 1 and handed == []
    job.refresh_from_db()
    assert job.done_at and job.attempts == 1


# The database going away ---------------------------------------------------------------


@override_settings(ROOT_URLCONF="tests.moderation.faults_urls")
def test_connection_loss_answers_503_with_retry_after_not_500(client):
    html = client.get("/lost/")
    api = client.get("/api/lost/")
    assert html.status_code == 503 and html["Retry-After"] and b"Temporarily unavailable" in html.content
    assert api.status_code == 503 and api["Retry-After"] and api.json()["detail"]


def _deadlock() -> OperationalError:
    import psycopg

    deadlock = OperationalError("deadlock detected")
    deadlock.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return deadlock


@pytest.mark.django_db
def test_a_chunk_that_loses_every_race_answers_503_and_the_batch_sent_again_is_stored_once(monkeypatch):
    from cases.services.intake import ingest
    from cases.services.intake.chunk import LostRace, store_chunk
    from moderation.mirror.concurrency import ATTEMPTS

    story = StoryFactory()
    batch = [detector_hit_body(story, f"contended-{n}") for n in range(3)]
    attempts = []

    def last_chunk_always_overtaken(**kwargs):
        if any(item.idempotency_key == "contended-2" for _, item in kwargs["entries"]):
            attempts.append(1)
            raise LostRace("a case this chunk joined was closed meanwhile")
        return store_chunk(**kwargs)

    monkeypatch.setattr(ingest, "CHUNK_SIZE", 2)  # two chunks: the first two signals, then the third
    monkeypatch.setattr(ingest, "store_chunk", last_chunk_always_overtaken)
    monkeypatch.setattr(ingest, "backoff", lambda attempt: None)
    detector = APIClient()
    detector.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_client('ai-detector')[1]}")
    response = detector.post("/api/v1/signals/", batch, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] and "resending stores the rest once" in response.json()["detail"]
    assert len(attempts) == ATTEMPTS, "retried inside the server first"
    kept = Signal.objects.filter(idempotency_key__startswith="contended-")
    assert sorted(kept.values_list("idempotency_key", flat=True)) == ["contended-0", "contended-1"]

    monkeypatch.setattr(ingest, "store_chunk", store_chunk)
    again = detector.post("/api/v1/signals/", batch, format="json")
    assert again.status_code == 201
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate", "stored"]
    assert kept.count() == 3 and len({s.case_id for s in kept}) == 1


@pytest.mark.django_db(transaction=True)  # retried only outside a caller's transaction
def test_a_mirror_batch_that_deadlocks_on_every_attempt_answers_503_not_500(monkeypatch):
    from cases.services.intake import create_api_client
    from moderation.mirror import concurrency, services
    from moderation.models import Account

    def deadlocked(*args, **kwargs):
        raise _deadlock()

    monkeypatch.setattr(services, "_locked_by_platform_id", deadlocked)
    monkeypatch.setattr(concurrency, "backoff", lambda attempt: None)
    platform = APIClient()
    platform.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_api_client(name='mirror', scopes=['platform'])[1]}")
    response = platform.post("/api/v1/platform/accounts/", [{"platform_id": "w-9", "sequence": 1}], format="json")
    assert response.status_code == 503 and response["Retry-After"]
    assert not Account.objects.filter(platform_id="w-9").exists()


def test_a_deadlock_is_not_mistaken_for_connection_loss():
    import psycopg

    deadlock = OperationalError("deadlock detected")
    deadlock.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    assert not is_connection_loss(deadlock)
    terminated = OperationalError("terminating connection due to administrator command")
    terminated.__cause__ = psycopg.errors.AdminShutdown("terminating connection")
    assert is_connection_loss(terminated)


@pytest.mark.django_db(transaction=True)
def test_terminated_backends_answer_503_or_normally_never_500():
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    import psycopg
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(moderator())
    assert client.get("/healthz").status_code == 200
    dsn = {k: v for k, v in connection.get_connection_params().items() if k in ("host", "port", "user", "dbname")}
    statuses = []
    for _ in range(3):
        with psycopg.connect(**dsn, autocommit=True) as killer:
            killer.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        for path in ("/healthz", "/admin/"):
            statuses.append(client.get(path).status_code)
    assert 500 not in statuses
    assert set(statuses) <= {200, 503}
    assert client.get("/healthz").status_code == 200, "the dead connection was replaced"

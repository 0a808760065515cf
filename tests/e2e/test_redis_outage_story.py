"""Redis goes away in the middle of a working day (issue 16), end to end on PostgreSQL
with a real `rqworker`.

A detector keeps sending signals and a moderator decides a case while every hand-over
to Redis is refused (a closed port). Both answer as usual; the writer's notice is issued
but not marked sent. Redis comes back, the cron drain hands the waiting jobs over, the
worker applies the action and the email leaves once; the notice is marked sent then,
and a second drain sends nothing again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import ActionStatus, EnforcementAction, Notice, Signal
from cases.services.enforcement import drain_outbox
from cases.services.intake import create_api_client
from moderation import outbox
from moderation.models import AuditEvent, BackgroundJob
from tests.cases.review_factories import detector_signal, story_case
from tests.factories import moderator, policy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_a_redis_outage_loses_nothing_and_sends_nothing_twice(worker, monkeypatch):
    real_from_url = redis.Redis.from_url
    down = classmethod(lambda cls, *a, **kw: redis.Redis(host="127.0.0.1", port=6390, socket_connect_timeout=0.5))
    monkeypatch.setattr(redis.Redis, "from_url", down)

    # Signals arrive while Redis is down.
    case = story_case(code="spam.duplicate")
    detector_signal(case, policy=policy("spam.duplicate"))
    _, key = create_api_client(name="ai-text-classifier", allowed_sources=["detector"], scopes=["signals"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    batch = [
        {
            "idempotency_key": f"outage-{i}",
            "source": "detector",
            "account": case.account.platform_id,
            "story": case.story.platform_id,
            "policy": "spam.duplicate",
            "detector": {"name": "ai-text-classifier", "version": "2.3.0"},
            "score": 0.9,
        }
        for i in range(5)
    ]
    answer = api.post("/api/v1/signals/", batch, format="json")
    assert answer.status_code in (200, 201), answer.content
    assert Signal.objects.filter(idempotency_key__startswith="outage-").count() == 5

    # A moderator decides: the page answers as usual.
    client = Client()
    client.force_login(moderator())
    assert client.post(reverse("review:next", args=[case.queue.slug])).status_code == 302
    form = {
        "is_violation": "yes",
        "policy": policy("spam.duplicate").pk,
        "outcomes": ["story.remove"],
        "rationale": "Duplicate of last week's story.",
        "statement": "This story repeats one you already posted.",
        "hold_days": 30,
        **{f"detector_{pk}": "right" for pk in Signal.objects.filter(case=case).values_list("pk", flat=True)},
    }
    decided = client.post(reverse("review:case", args=[case.pk]), form)
    assert decided.status_code == 302, decided.content.decode()[-2000:]
    notice = Notice.objects.get(case=case, recipient_kind="writer")
    assert notice.emailed_at is None
    assert BackgroundJob.objects.filter(func="cases.jobs.send_notice_job", enqueued_at__isnull=True).count() == 1

    # Redis is back: the drains hand everything over and a real worker runs it.
    monkeypatch.setattr(redis.Redis, "from_url", real_from_url)
    later = timezone.now() + timedelta(minutes=5)
    assert outbox.drain_jobs(now=later) >= 1
    drain_outbox(older_than=timedelta(0))
    worker.drain()

    notice.refresh_from_db()
    assert notice.emailed_at is not None
    assert EnforcementAction.objects.get(case=case).status == ActionStatus.APPLIED
    to_writer = [m for m in worker.mails() if m["To"] == case.account.email]
    assert len(to_writer) == 1
    assert AuditEvent.objects.filter(verb="notice.sent", target_id=str(notice.pk)).count() == 1
    assert not outbox.open_jobs().exists()

    # Nothing is sent twice.
    assert outbox.drain_jobs(now=later + timedelta(hours=1)) == 0
    worker.drain()
    assert len([m for m in worker.mails() if m["To"] == case.account.email]) == 1

"""Two web hosts and two workers against one PostgreSQL and one Redis (issue 16,
"scaling past one machine"), read back by a supervisor.

Nothing the back-office promises may live in one process: a detector posts overlapping
batches to both hosts at once, moderators sign in once and work through either host
(the session is in the database), claims never collide across hosts, the decisions'
actions are applied once by two workers draining the same queues at the same time, and
the public form's rate limit counts a writer's posts on every host together (Redis).
The hosts are gunicorn servers as `make serve` runs them, each its own process.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import redis
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bench.against_raw import signed_in
from bench.served import gunicorn
from cases.models import ActionStatus, Case, CaseStatus, Decision, EnforcementAction, OutboxEntry, Signal
from cases.services.enforcement import drain_outbox
from cases.services.intake import create_api_client
from moderation.audit import verify_chain
from moderation.audit_sequencer import run_sequencer
from moderation.models import AuditEvent, Story
from supervision.selectors import Period, detector_measures
from supervision.services import ROLLUP_LAG, roll_up_supervision_days
from tests.factories import AccountFactory, StoryFactory, moderator, policy, supervisor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

STORIES = 8
MODERATORS = 4
TOKEN = "s" * 32


def _browser(user) -> requests.Session:
    """A moderator's browser: signed in once (second factor passed), CSRF cookie set."""
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, signed_in(user).cookies[settings.SESSION_COOKIE_NAME].value)
    session.cookies.set(settings.CSRF_COOKIE_NAME, TOKEN)
    session.headers["X-CSRFToken"] = TOKEN
    # A new connection a request: a kept-alive one the host closed while idle would read
    # as a reset (a browser retries it; requests does not retry a POST).
    session.headers["Connection"] = "close"
    return session


def _signal(n: int, stories: list[Story]) -> dict:
    story = stories[n % len(stories)]
    return {
        "idempotency_key": f"scale-out-{n}",
        "source": "detector",
        "account": story.author.platform_id,
        "story": story.platform_id,
        "policy": "spam.duplicate",
        "detector": {"name": "spam-classifier", "version": "4.1.0"},
        "score": 0.91,
    }


def _in_threads(work, count: int) -> list[str]:
    errors: list[str] = []

    def run(i):
        try:
            work(i)
        except Exception as exc:  # reported by the assertion below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_hosts_and_two_workers_keep_every_promise(worker):
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # no rate-limit counts left by an earlier run
    writers = [AccountFactory() for _ in range(STORIES)]
    stories = [StoryFactory(author=writer) for writer in writers]
    bystander = StoryFactory()  # a writer nobody reported
    _, key = create_api_client(name="spam-classifier", allowed_sources=["detector"], scopes=["signals"])
    team = [moderator() for _ in range(MODERATORS)]

    with gunicorn(workers=1, threads=4) as host_a, gunicorn(workers=1, threads=4) as host_b:
        hosts = [host_a, host_b]

        # The detector posts four overlapping batches, two to each host, at once.
        batches = [[_signal(n, stories) for n in range(start, start + 40)] for start in (0, 20, 40, 60)]
        answers: list[int] = []

        def post(i):
            answer = requests.post(
                f"{hosts[i % 2]}/api/v1/signals/",
                json=batches[i],
                headers={"Authorization": f"Api-Key {key}"},
                timeout=60,
            )
            answers.append(answer.status_code)

        assert _in_threads(post, len(batches)) == []
        assert sorted(answers) and all(code in (200, 201) for code in answers), answers
        assert Signal.objects.filter(idempotency_key__startswith="scale-out-").count() == 100
        cases = Case.objects.filter(story__in=stories)
        assert cases.count() == STORIES, "one case per story, however many hosts the signals came through"
        queue = cases.first().queue
        assert set(cases.values_list("queue", flat=True)) == {queue.pk}

        # Moderators sign in once and work through both hosts: Review next on one host,
        # the decision on the other.
        browsers = [_browser(user) for user in team]
        claimed: list[tuple[int, int]] = []

        def review(i):
            browser, own, other = browsers[i], hosts[i % 2], hosts[(i + 1) % 2]
            for _ in range(STORIES // MODERATORS):
                answer = browser.post(f"{own}/admin/review/queue/{queue.slug}/next/", allow_redirects=False, timeout=60)
                assert answer.status_code == 302, answer.status_code
                pk = int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
                claimed.append((i, pk))
                signals = Signal.objects.filter(case_id=pk).values_list("pk", flat=True)
                form = {
                    "is_violation": "yes",
                    "policy": policy("spam.duplicate").pk,
                    "outcomes": ["story.remove"],
                    "rationale": "Posted again and again by a spam run.",
                    "statement": "This story repeats one you already posted.",
                    "hold_days": 30,
                    **{f"detector_{signal}": "right" for signal in signals},
                }
                decided = browser.post(f"{other}/admin/review/case/{pk}/", data=form, allow_redirects=False, timeout=60)
                assert decided.status_code == 302, decided.text[-1500:]

        assert _in_threads(review, MODERATORS) == []
        assert sorted(pk for _, pk in claimed) == sorted(cases.values_list("pk", flat=True)), "no case twice"
        for i, pk in claimed:
            assert Decision.objects.get(case_id=pk).decided_by_id == team[i].pk

        # The public form's limit (10 an hour from one address) counts both hosts together.
        start = [
            requests.post(
                f"{hosts[n % 2]}/appeal/",
                data={"handle": f"nobody{n}", "email": f"nobody{n}@example.com", "csrfmiddlewaretoken": TOKEN},
                cookies={settings.CSRF_COOKIE_NAME: TOKEN},
                timeout=60,
            ).status_code
            for n in range(12)
        ]
        assert start == [200] * 10 + [429] * 2, start

    # Two workers drain the same queues at the same time: each action applied once. The
    # hosts handed each decision's actions to RQ after commit; the cron drain sends again
    # whatever that hand-over did not deliver (as every 30 s in production).
    drain_outbox(older_than=timedelta(0))
    worker.drain(processes=2)
    actions = EnforcementAction.objects.filter(case__story__in=stories)
    assert actions.count() == STORIES
    assert set(actions.values_list("status", flat=True)) == {ActionStatus.APPLIED}, list(
        OutboxEntry.objects.values_list("action__status", "attempts", "leased_until", "done_at", "last_error")
    )
    applied = Counter(
        AuditEvent.objects.filter(verb="action.applied", target_id__in=[str(a.pk) for a in actions]).values_list(
            "target_id", flat=True
        )
    )
    assert applied == {str(a.pk): 1 for a in actions}
    for story in Story.objects.filter(pk__in=[s.pk for s in stories]):
        assert story.is_removed, f"{story.platform_id} still up"
    assert set(cases.values_list("status", flat=True)) == {CaseStatus.DECIDED}
    letters = Counter(message["To"] for message in worker.mails())
    for writer in writers:
        assert letters[writer.email] == 1, f"{writer.handle} got {letters[writer.email]} letters"
    bystander.refresh_from_db()
    assert not bystander.is_removed and letters[bystander.author.email] == 0
    assert not Case.objects.filter(account=bystander.author).exists()
    run_sequencer()
    report = verify_chain()
    assert report.ok, report.summary()

    # A supervisor reads the detector back: the cases it opened, the moderators' marks on
    # its signals and the actions applied, the same counted live and after the daily
    # rollup has taken today in (as its cron does once the lag has passed).
    def spam_classifier() -> dict:
        found = [d for d in detector_measures(period=Period.last_days(28)) if d["name"] == "spam-classifier"]
        assert len(found) == 1, found
        return {k: found[0][k] for k in ("version", "cases", "marks", "right", "applied", "overturned")}

    live = spam_classifier()
    assert live == {
        "version": "4.1.0",
        "cases": STORIES,
        "marks": 100,
        "right": 100,
        "applied": STORIES,
        "overturned": 0,
    }
    roll_up_supervision_days(now=timezone.now() + ROLLUP_LAG)
    assert spam_classifier() == live
    page = signed_in(supervisor()).get("/admin/supervision/")
    assert page.status_code == 200 and "spam-classifier" in page.content.decode()

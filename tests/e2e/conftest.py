"""End-to-end stories: PostgreSQL, real Redis queues and a real `rqworker` process.

The test process commits (transactional tests), enqueues through the project's one
door with `JOBS_RUN_INLINE` off, and `worker.drain()` runs `manage.py rqworker --burst`
in a separate process on the same test database until every queue is empty. Emails the
worker sends land in a folder the test reads (`worker.mails()`).
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]
QUEUES = ("enforcement", "restoration", "default", "email")


class Worker:
    def __init__(self, mail_dir: Path):
        self.mail_dir = mail_dir
        self.runs = 0

    def _queues(self):
        import django_rq

        return [django_rq.get_queue(name) for name in QUEUES]

    def pending(self) -> int:
        total = 0
        for queue in self._queues():
            total += queue.count + queue.scheduled_job_registry.count + queue.deferred_job_registry.count
        return total

    def drain(self, *, max_runs: int = 20, processes: int = 1) -> int:
        """Work every queue to empty in `processes` worker processes at once (as on
        several worker hosts); return how many rounds it took."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
            "E2E_DATABASE_NAME": connection.settings_dict["NAME"],
            "E2E_MAIL_DIR": str(self.mail_dir),
        }
        runs = 0
        while runs == 0 or self.pending() or self._hand_over_waiting_jobs():
            runs += 1
            if runs > max_runs:
                raise AssertionError(f"queues not empty after {max_runs} worker runs: {self.pending()} jobs left")
            started = [
                subprocess.Popen(
                    [sys.executable, "manage.py", "rqworker", *QUEUES, "--burst", "--with-scheduler"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(processes)
            ]
            for process in started:
                _, stderr = process.communicate(timeout=300)
                assert process.returncode == 0, stderr[-4000:]
                failed = sum(q.failed_job_registry.count for q in self._queues())
                assert failed == 0, f"a job failed in the worker:\n{stderr[-4000:]}"
        self.runs += runs
        return runs

    def _hand_over_waiting_jobs(self) -> int:
        """What the cron drain would do next (moderation.outbox): jobs whose hand-over was
        lost or whose run failed and waits for its retry are sent to RQ again, so a story
        ends in the state production reaches once the retries are through."""
        from moderation.outbox import drain_jobs

        return drain_jobs(now=timezone.now() + timedelta(hours=2))

    def mails(self) -> list[email.message.Message]:
        messages = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for chunk in path.read_text().split("-" * 79):
                if chunk.strip():
                    messages.append(email.message_from_string(chunk.strip()))
        return messages


@pytest.fixture
def worker(tmp_path, transactional_db):
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("end-to-end stories run on PostgreSQL with Redis (CI sets DATABASE_URL and REDIS_URL)")
    import django_rq

    for name in QUEUES:
        queue = django_rq.get_queue(name)
        queue.empty()
        for registry in (queue.failed_job_registry, queue.scheduled_job_registry, queue.deferred_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    assert settings.RQ_QUEUES["default"]["URL"] == os.environ["REDIS_URL"]
    with override_settings(JOBS_RUN_INLINE=False):
        yield Worker(mail_dir)

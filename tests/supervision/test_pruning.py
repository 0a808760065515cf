"""Pruning: finished background jobs and applied outbox entries go once the
`finished_work` rule's days have passed since they finished; recent ones, failures
nobody resolved, jobs still open and reversal entries stay; each run that deletes
writes one audit row with the counts, and the work is set-based in batches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appeals.models import MagicLinkRequest
from cases.models import OutboxEntry
from moderation.models import AuditEvent, BackgroundJob
from supervision.models import RetentionKind, RetentionRule
from supervision.pruning import prune_finished_work
from supervision.retention import run_retention, save_retention_rule
from tests.factories import EnforcementActionFactory, supervisor

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def ago(days: float):
    return NOW - timedelta(days=days)


def job(name: str, **fields) -> BackgroundJob:
    return BackgroundJob.objects.create(func=f"tests.jobs.{name}", next_attempt_at=ago(90), **fields)


def entry(operation: str, **fields) -> OutboxEntry:
    return OutboxEntry.objects.create(action=EnforcementActionFactory(), operation=operation, **fields)


@pytest.fixture
def queues():
    """Finished and unfinished work of every age, named by what pruning must do to it."""
    rows = {
        "old_done_jobs": [job("old", done_at=ago(31 + i)) for i in range(3)],
        "recent_done_job": job("recent", done_at=ago(29)),
        "old_gave_up_job": job("failed", attempts=8, last_error="OSError: SMTP refused", gave_up_at=ago(200)),
        "old_open_job": job("waiting", attempts=2, last_error="OSError: timed out"),
        "old_applied_entry": entry("apply", done_at=ago(45)),
        "recent_applied_entry": entry("apply", done_at=ago(3)),
        "old_failed_entry": entry("apply", gave_up_at=ago(120), last_error="PlatformError: 503"),
        "old_reversal_entry": entry("reverse", done_at=ago(60), progress_total=10, progress_done=10),
        "stale_request": MagicLinkRequest.objects.create(handle="ada", email="ada@example.com"),
        "fresh_request": MagicLinkRequest.objects.create(handle="bo", email="bo@example.com"),
    }
    MagicLinkRequest.objects.filter(pk=rows["stale_request"].pk).update(created_at=ago(2))
    return rows


def surviving(queues) -> set[str]:
    kept = set()
    for name, rows in queues.items():
        rows = rows if isinstance(rows, list) else [rows]
        if all(type(row).objects.filter(pk=row.pk).exists() for row in rows):
            kept.add(name)
    return kept


def test_old_finished_rows_go_and_recent_ones_and_unresolved_failures_stay(queues):
    report = prune_finished_work(now=NOW, batch=2)

    assert surviving(queues) == {
        "recent_done_job",
        "old_gave_up_job",
        "old_open_job",
        "recent_applied_entry",
        "old_failed_entry",
        "old_reversal_entry",
        "fresh_request",
    }
    assert report.deleted == {"jobs": 3, "outbox_entries": 1, "magic_link_requests": 1}
    assert report.batches > 3, "the three old jobs went two at a time"

    event = AuditEvent.objects.get(verb="retention.pruned")
    assert event.target_type == "supervision.retentionrule" and event.actor_id is None
    assert event.after == {"kind": "finished_work", "jobs": 3, "outbox_entries": 1, "magic_link_requests": 1}
    assert event.reason == "Finished more than 30 days ago"


def test_a_second_run_finds_nothing_and_writes_no_audit_row(queues):
    prune_finished_work(now=NOW)
    assert prune_finished_work(now=NOW).deleted == {}
    assert AuditEvent.objects.filter(verb="retention.pruned").count() == 1


def test_a_failed_job_resolved_by_a_retry_ages_like_any_other(queues):
    failed = queues["old_gave_up_job"]
    BackgroundJob.objects.filter(pk=failed.pk).update(gave_up_at=None, done_at=ago(40))
    prune_finished_work(now=NOW)
    assert not BackgroundJob.objects.filter(pk=failed.pk).exists()


def test_supervisors_set_the_days_and_can_stop_pruning(queues):
    rule = RetentionRule.objects.get(kind=RetentionKind.FINISHED_WORK)
    rule.keep_days_after_last_activity = 60
    save_retention_rule(actor=supervisor(), rule=rule)
    assert prune_finished_work(now=NOW).deleted == {"magic_link_requests": 1}

    rule.is_active = False
    save_retention_rule(actor=supervisor(), rule=rule)
    assert prune_finished_work(now=NOW + timedelta(days=365)).deleted == {}
    assert surviving(queues) >= {"old_done_jobs", "old_applied_entry"}


def test_the_daily_retention_run_prunes_with_the_other_kinds(queues):
    report = run_retention(now=NOW)
    assert report.pruned == {"jobs": 3, "outbox_entries": 1, "magic_link_requests": 1}
    assert report.purged == {}, "no case's data was past its time"
    assert AuditEvent.objects.filter(verb="retention.pruned", after__kind="finished_work").count() == 1
    assert not AuditEvent.objects.filter(verb="retention.purged").exists()


def test_the_command_prunes_and_says_how_much(queues, capsys):
    call_command("prune_finished_work", "--batch", "2")
    out = capsys.readouterr().out
    assert "Pruned 3 jobs, 1 outbox entries, 1 magic link requests" in out


def test_the_work_is_set_based_its_statements_do_not_grow_with_the_backlog():
    def statements_to_prune(old_jobs: int) -> int:
        BackgroundJob.objects.bulk_create(
            [BackgroundJob(func="tests.jobs.old", next_attempt_at=ago(90), done_at=ago(40)) for _ in range(old_jobs)]
        )
        with CaptureQueriesContext(connection) as ran:
            report = prune_finished_work(now=NOW, batch=1000)
        assert report.deleted["jobs"] == old_jobs
        return len(ran.captured_queries)

    assert statements_to_prune(5) == statements_to_prune(500)

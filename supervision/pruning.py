"""Pruning of finished background work, the `finished_work` kind of the retention policy
(a `RetentionRule` supervisors change in the admin, audited like the others; seeded at
30 days). The queue tables keep a finished row that long, then it goes:

- background jobs (moderation.BackgroundJob) done before the cutoff;
- enforcement outbox entries (cases.OutboxEntry) that applied an action before the
  cutoff. Reversal entries stay: they carry the restoration's progress the case page
  shows for a reversed action, and there is one per reversal, not one per action;
- sign-in link requests (appeals.MagicLinkRequest) older than a link's life, whatever
  the rule's days: what a visitor typed is not kept a day longer than the job could use
  it (the job deletes its own; these are what failed jobs left).

A job that gave up, or an entry that gave up, stays until a person resolves it (a
retry that succeeds makes it done, and then it ages like any other). No appeal window:
these rows are plumbing, not the record (the audit trail and the actions are).

Set-based, in batches: `DELETE … WHERE id = ANY(ARRAY(SELECT id … WHERE id > <the last
batch's last id> AND … ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED)) RETURNING id`, one
transaction per batch, so no statement or lock grows with the backlog; each batch starts
where the last stopped, so a run reads the table once. Ids rise with time, so the id
order finds old rows first. One `retention.pruned` audit row per run names the counts,
committed with the last batch (a run that dies midway leaves its committed batches out
of the count; the next run counts only what it deletes).
Run daily by `run_retention` (supervision/cron.py) and by `manage.py prune_finished_work`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

import supervision.audit_verbs  # noqa: F401  (registers retention.pruned)
from appeals.models import MagicLinkRequest
from appeals.tokens import MAGIC_LINK_MAX_AGE
from cases.models import OutboxEntry, OutboxOperation
from moderation.audit import record_event
from moderation.models import BackgroundJob
from supervision.models import RetentionKind, RetentionRule

BATCH = 1000


@dataclass
class PruneReport:
    """Rows deleted by table (the audit row's counts) and how many batches it took."""

    deleted: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _targets(*, cutoff: datetime, now: datetime) -> list[tuple[str, type[Model], str, list]]:
    """(name in the audit row, model, condition, parameters) per queue table."""
    return [
        ("jobs", BackgroundJob, "done_at < %s", [cutoff]),
        ("outbox_entries", OutboxEntry, "operation = %s AND done_at < %s", [OutboxOperation.APPLY, cutoff]),
        ("magic_link_requests", MagicLinkRequest, "created_at < %s", [now - MAGIC_LINK_MAX_AGE]),
    ]


def _delete_batch(model: type[Model], condition: str, params: list, after_id: int, limit: int) -> tuple[int, int]:
    """Delete up to `limit` rows past `after_id`; returns (how many, the last id). The
    next batch starts after that id: restarting from the first id would walk the index
    entries of every row deleted so far (dead until vacuumed) on every batch."""
    table = connection.ops.quote_name(model._meta.db_table)
    skip = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    # The table comes from the model and the condition from `_targets`; values are bound.
    # `= ANY(ARRAY(…))`, not `IN (…)`: from a few thousand ids PostgreSQL plans IN as a
    # hash join over a sequential scan of the whole table, on every batch. SQLite has no arrays.
    batch = f"SELECT id FROM {table} WHERE id > %s AND {condition} ORDER BY id LIMIT %s{skip}"  # noqa: S608
    among = f"= ANY(ARRAY({batch}))" if connection.vendor == "postgresql" else f"IN ({batch})"
    sql = f"DELETE FROM {table} WHERE id {among} RETURNING id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [after_id, *params, limit])
        ids = [row[0] for row in cursor.fetchall()]
    return len(ids), max(ids, default=after_id)


def finished_work_rule() -> RetentionRule | None:
    return RetentionRule.objects.filter(kind=RetentionKind.FINISHED_WORK, is_active=True).first()


def prune_finished_work(*, rule: RetentionRule | None = None, now: datetime | None = None, batch: int = BATCH):
    """Delete finished rows past the rule's days, a batch per transaction; returns the
    report. Nothing happens without an active `finished_work` rule. Idempotent."""
    now = now or timezone.now()
    rule = rule or finished_work_rule()
    report = PruneReport()
    if rule is None or not rule.is_active:
        return report
    cutoff = now - timedelta(days=rule.keep_days_after_last_activity)
    targets = _targets(cutoff=cutoff, now=now)
    for position, (name, model, condition, params) in enumerate(targets):
        after_id = 0
        while True:
            with transaction.atomic():
                deleted, after_id = _delete_batch(model, condition, params, after_id, batch)
                report.batches += 1
                if deleted:
                    report.deleted[name] = report.deleted.get(name, 0) + deleted
                last = deleted < batch and position == len(targets) - 1
                if last and report.total:
                    record_event(
                        actor=None,
                        verb="retention.pruned",
                        target=rule,
                        after={"kind": rule.kind, **report.deleted},
                        reason=f"Finished more than {rule.keep_days_after_last_activity} days ago",
                    )
            if deleted < batch:
                break
    return report

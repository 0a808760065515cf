"""The sequencer: gives committed audit rows their place in the hash chain and signs heads.

Writers never wait for it. It runs as a periodic job (RQ cron every
AUDIT_SEQUENCER_INTERVAL seconds, supervision/cron.py) or, in the SQLite default and the
tests, after each commit that wrote audit rows. Runs serialise on one row of
AuditSequencer, which writers never touch. Pending rows are taken in id order, a batch per
transaction; a row whose transaction commits late, with a lower id than rows already
chained, is simply taken by the next run: `seq IS NULL` is the only test, and the trigger
lets the chain columns go from empty to set once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone

from moderation.audit import GENESIS_HASH, chain_columns, entry_hash
from moderation.audit_heads import Head, head_sink, sign_head, verify_head

logger = logging.getLogger(__name__)


class AuditLogTampered(Exception):
    """The table no longer matches the newest signed head: the sequencer signs nothing more."""


@dataclass(frozen=True)
class SequencerRun:
    integrated: int
    head: Head | None


def runs_after_each_commit() -> bool:
    inline = settings.AUDIT.get("SEQUENCER_INLINE")
    return settings.JOBS_RUN_INLINE if inline is None else bool(inline)


def integrate_audit_log_job() -> int:
    """Periodic (supervision/cron.py) and after-commit entry point; safe to overlap."""
    try:
        return run_sequencer().integrated
    except AuditLogTampered:
        logger.exception("Audit log sequencer stopped")
        raise


def run_sequencer(*, batch_size: int | None = None) -> SequencerRun:
    check_table_against_newest_head()
    integrated = integrate(batch_size=batch_size)
    return SequencerRun(integrated, publish_head())


def _lock() -> None:
    """Serialise sequencer runs (a row lock on PostgreSQL, the write lock on SQLite)."""
    from moderation.models import AuditSequencer

    now = timezone.now()
    if not AuditSequencer.objects.filter(pk=1).update(ran_at=now):
        AuditSequencer.objects.get_or_create(pk=1, defaults={"ran_at": now})
        AuditSequencer.objects.filter(pk=1).update(ran_at=now)


def _tail() -> tuple[int, str]:
    from moderation.models import AuditEvent

    last = AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").values_list("seq", "hash").first()
    return last or (0, GENESIS_HASH)


def check_table_against_newest_head() -> None:
    """Never extend a chain that disagrees with what was already signed (as a CT log never
    issues inconsistent heads): the newest head's position must hold the same hash."""
    from moderation.models import AuditEvent

    latest = head_sink().latest()
    if latest is None:
        return
    if not verify_head(latest):
        raise AuditLogTampered(f"The newest head in the sink (size {latest.size}) has a bad signature.")
    stored = AuditEvent.objects.filter(seq=latest.size).values_list("hash", flat=True).first()
    if stored != latest.root:
        raise AuditLogTampered(
            f"The table does not match the newest signed head ({latest.size} events, signed {latest.time}): "
            "run `manage.py verify_audit_chain`. Nothing more is chained or signed until this is resolved."
        )


def integrate(*, batch_size: int | None = None) -> int:
    """Chain every committed, unchained row; one transaction per batch. Returns how many."""
    batch_size = batch_size or settings.AUDIT["SEQUENCER_BATCH_SIZE"]
    select = f"SELECT {chain_columns()} FROM moderation_auditevent WHERE seq IS NULL AND id > %s ORDER BY id LIMIT %s"  # noqa: S608
    total = 0
    after_id = -(2**63)  # later batches start after the last id taken; a lower id committing meanwhile waits a run
    while True:
        with transaction.atomic():
            _lock()
            size, prev = _tail()
            with connection.cursor() as cursor:
                _walk_indexes(cursor)
                cursor.execute(select, [after_id, batch_size])
                rows = cursor.fetchall()
            if not rows:
                return total
            ids, seqs, prevs, hashes = [], [], [], []
            for row in rows:
                size += 1
                digest = entry_hash(prev, size, row[4])
                ids.append(row[0])
                seqs.append(size)
                prevs.append(prev)
                hashes.append(digest)
                prev = digest
            _write_chain(ids, seqs, prevs, hashes)
        total += len(rows)
        after_id = ids[-1]
        if len(rows) < batch_size:
            return total


def _walk_indexes(cursor) -> None:
    """The sequencer empties its own backlog faster than PostgreSQL's statistics follow: with
    a stale estimate of pending rows the planner builds every pending row's payload and sorts
    it, or hashes the whole backlog to update a batch. Both queries are only right as
    ordered index walks (the pending index by id, the primary key), so say so for this
    transaction."""
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), "
            "set_config('enable_sort', 'off', true), set_config('enable_hashjoin', 'off', true), "
            "set_config('enable_mergejoin', 'off', true)"
        )


def _write_chain(ids: list[int], seqs: list[int], prevs: list[str], hashes: list[str]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE moderation_auditevent AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS v(id, seq, prev_hash, hash) "
                "WHERE e.id = v.id AND COALESCE(e.seq, 0) = 0",  # a filter, not an index to walk
                [ids, seqs, prevs, hashes],
            )
            changed = cursor.rowcount
        else:
            cursor.executemany(
                "UPDATE moderation_auditevent SET seq = %s, prev_hash = %s, hash = %s WHERE id = %s AND seq IS NULL",
                list(zip(seqs, prevs, hashes, ids, strict=True)),
            )
            changed = cursor.rowcount
    if changed != len(ids):
        raise RuntimeError(f"Chained {changed} of {len(ids)} audit rows: another writer changed them.")


def publish_head() -> Head | None:
    """Sign the current tail and append it to the sink, under the sequencer's lock so
    heads reach the sink in increasing size. Only committed rows are ever signed."""
    with transaction.atomic():
        _lock()
        size, root = _tail()
        if size == 0:
            return None
        sink = head_sink()
        latest = sink.latest()
        if latest is not None and latest.size >= size:
            return None
        head = sign_head(size=size, root=root, when=timezone.now())
        sink.append(head)
    return head


@dataclass(frozen=True)
class IntegrationStatus:
    pending: int
    oldest_pending: datetime | None
    lag_seconds: float
    limit_seconds: float
    newest_head: Head | None
    sequencer_ran_at: datetime | None

    @property
    def alert(self) -> bool:
        return self.lag_seconds > self.limit_seconds


def integration_status(*, now: datetime | None = None) -> IntegrationStatus:
    """How far the chain is behind the table: the age of the oldest event not yet chained."""
    from moderation.models import AuditEvent, AuditSequencer

    now = now or timezone.now()
    waiting = AuditEvent.objects.filter(seq__isnull=True).aggregate(n=Count("id"), oldest=Min("occurred_at"))
    oldest = waiting["oldest"]
    return IntegrationStatus(
        pending=waiting["n"],
        oldest_pending=oldest,
        lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        limit_seconds=float(settings.AUDIT["MAX_INTEGRATION_DELAY_SECONDS"]),
        newest_head=head_sink().latest(),
        sequencer_ran_at=AuditSequencer.objects.filter(pk=1).values_list("ran_at", flat=True).first(),
    )

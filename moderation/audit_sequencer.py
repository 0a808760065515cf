"""The sequencer: gives committed audit rows their place in the hash chain and signs heads.

Writers never wait for it. It runs as a periodic job (RQ cron every
AUDIT_SEQUENCER_INTERVAL seconds, supervision/cron.py) or, in the SQLite default and the
tests, after each commit that wrote audit rows. Runs serialise on one row of
AuditSequencer, which writers never touch. Queued events (AuditPending) are taken in id
order, a batch per transaction; a row whose transaction commits late, with a lower id than
rows already chained, is simply taken by the next run. A batch is one COPY (PostgreSQL)
or multi-row INSERT (SQLite) into the narrow AuditChainEntry table and one DELETE from
the queue: the audit rows themselves are read, never written, so none of their indexes
is touched and no dead tuple is left in the audit table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from moderation.audit import GENESIS_HASH, entry_hash, payload_sql, pending_events
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
    from moderation.models import AuditChainEntry

    last = AuditChainEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    return last or (0, GENESIS_HASH)


def check_table_against_newest_head() -> None:
    """Never extend a chain that disagrees with what was already signed (as a CT log never
    issues inconsistent heads): the newest head's position must hold the same hash, and
    its event must still be there."""
    latest = head_sink().latest()
    if latest is None:
        return
    if not verify_head(latest):
        raise AuditLogTampered(f"The newest head in the sink (size {latest.size}) has a bad signature.")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.hash FROM moderation_auditchainentry AS c "
            "JOIN moderation_auditevent AS e ON e.id = c.event_id WHERE c.seq = %s",
            [latest.size],
        )
        found = cursor.fetchone()
    stored = found[0] if found else None
    if stored != latest.root:
        raise AuditLogTampered(
            f"The table does not match the newest signed head ({latest.size} events, signed {latest.time}): "
            "run `manage.py verify_audit_chain`. Nothing more is chained or signed until this is resolved."
        )


def integrate(*, batch_size: int | None = None) -> int:
    """Chain every committed, queued event; one transaction per batch. Returns how many."""
    batch_size = batch_size or settings.AUDIT["SEQUENCER_BATCH_SIZE"]
    select = (
        f"SELECT p.event_id, CASE WHEN moderation_auditevent.id IS NOT NULL THEN {payload_sql()} END "  # noqa: S608
        "FROM (SELECT event_id FROM moderation_auditpending "
        "WHERE event_id > %s ORDER BY event_id LIMIT %s) AS p "
        "LEFT JOIN moderation_auditevent ON moderation_auditevent.id = p.event_id"
    )
    total = 0
    after_id = -(2**63)  # later batches start after the last id taken; a lower id committing meanwhile waits a run
    while True:
        with transaction.atomic():
            _lock()
            size, prev = _tail()
            with connection.cursor() as cursor:
                _walk_indexes(cursor)
                cursor.execute(select, [after_id, batch_size])
                rows = sorted(cursor.fetchall())
            if not rows:
                return total
            seqs, ids, hashes, gone = [], [], [], []
            for event_id, payload in rows:
                if payload is None:  # queued, then deleted behind the triggers' back before it was chained
                    gone.append(event_id)
                    continue
                size += 1
                prev = entry_hash(prev, size, payload)
                seqs.append(size)
                ids.append(event_id)
                hashes.append(prev)
            if gone:
                logger.error("Audit events %s were queued but are gone: they cannot be chained.", gone)
            _write_chain(seqs, ids, hashes, gone)
        total += len(ids)
        after_id = rows[-1][0]
        if len(rows) < batch_size:
            return total


def _walk_indexes(cursor) -> None:
    """The sequencer empties its queue faster than PostgreSQL's statistics follow: with a
    stale estimate the planner hashes or scans the whole audit table to join a batch. The
    batch (a LIMIT on the queue's primary key) is only right as index probes into the
    events' primary key, so say so for this transaction."""
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), "
            "set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"
        )


def _write_chain(seqs: list[int], ids: list[int], hashes: list[str], gone: list[int]) -> None:
    """The entries in one COPY (a multi-row INSERT on SQLite), their queue rows (and those of
    events that are gone) in one DELETE."""
    queued = ids + gone
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = "moderation_auditchainentry (seq, event_id, hash)"
            with connection.connection.cursor() as raw, raw.copy(f"COPY {columns} FROM STDIN") as copy:
                for row in zip(seqs, ids, hashes, strict=True):
                    copy.write_row(row)
            cursor.execute("DELETE FROM moderation_auditpending WHERE event_id = ANY(%s::bigint[])", [queued])
            taken = cursor.rowcount
        else:
            cursor.executemany(
                "INSERT INTO moderation_auditchainentry (seq, event_id, hash) VALUES (%s, %s, %s)",
                list(zip(seqs, ids, hashes, strict=True)),
            )
            taken = 0
            for start in range(0, len(queued), 500):
                chunk = queued[start : start + 500]
                cursor.execute(
                    f"DELETE FROM moderation_auditpending WHERE event_id IN ({', '.join(['%s'] * len(chunk))})",  # noqa: S608
                    chunk,
                )
                taken += cursor.rowcount
    if taken != len(queued):
        raise RuntimeError(f"Took {taken} of {len(queued)} queued audit events: another sequencer ran.")


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
    from moderation.models import AuditSequencer

    now = now or timezone.now()
    waiting, oldest = pending_events()
    return IntegrationStatus(
        pending=waiting,
        oldest_pending=oldest,
        lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        limit_seconds=float(settings.AUDIT["MAX_INTEGRATION_DELAY_SECONDS"]),
        newest_head=head_sink().latest(),
        sequencer_ran_at=AuditSequencer.objects.filter(pk=1).values_list("ran_at", flat=True).first(),
    )

"""The audit log as a transparency log (after Certificate Transparency and Trillian).

Writers append: `record_event` inserts one row in the changing transaction, with no lock
shared with other writers and the chain columns empty. The sequencer
(moderation.audit_sequencer) later gives committed rows their position (`seq`) and chains
them, in batches, and signs a head (size, hash of the last entry, time) that goes to a sink
outside the database (moderation.audit_heads). `verify_chain` walks the chain and checks
every signed head against it, so a rewrite by someone who owns the database shows.

Verbs are registered once with a human template (as Sentry's audit registry does),
so old rows stay explainable after the code moves on.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

GENESIS_HASH = "0" * 64
ENTRY_PREFIX = b"moderation-audit-entry/v2\n"
MAX_PROBLEMS = 20


class AuditLogIsAppendOnly(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

    def bulk_update(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def bulk_create(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events are written one by one through record_event().")


VERBS: dict[str, str] = {}


def register_verb(verb: str, template: str) -> None:
    """Template placeholders: {actor}, {target}, {reason}."""
    VERBS[verb] = template


for _verb, _template in {
    "policy.version_published": "{actor} published {target}",
    "account.status_changed": "{actor} changed the status of {target}",
    "role.assigned": "{actor} changed the roles of {target}",
    "api_client.created": "{actor} created API client {target}",
    "api_client.key_issued": "{actor} issued a key for {target}",
    "api_client.key_revoked": "{actor} revoked a key of {target}",
    "demo.seeded": "{actor} seeded demo data",
}.items():
    register_verb(_verb, _template)


def describe(event) -> str:
    template = VERBS.get(event.verb, "{actor} did " + event.verb + " on {target}")
    return template.format(actor=event.actor_label, target=event.target_label or event.target_id, reason=event.reason)


def actor_label_for(actor) -> str:
    if actor is None:
        return "system"
    client = getattr(actor, "api_client", None) if actor.pk else None
    if client is not None:
        return f"api-client:{client.name}"
    return actor.get_username()


def record_event(
    *,
    actor,
    verb: str,
    target: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    case_ref: int | None = None,
    appeal_ref: int | None = None,
):
    """Append one event. Must run inside the transaction that makes the change.

    Takes no lock and reads nothing: the row joins the chain when the sequencer
    integrates it after commit (moderation.audit_sequencer)."""
    from moderation.models import AuditEvent

    if verb not in VERBS:
        raise ValueError(f"Unregistered audit verb {verb!r}")
    if not connection.in_atomic_block:
        raise RuntimeError("record_event() must run inside the transaction that makes the change.")
    fields = {
        "occurred_at": timezone.now(),
        "actor_id": actor.pk if actor is not None and actor.pk else None,
        "actor_label": actor_label_for(actor),
        "verb": verb,
        "target_type": target._meta.label_lower,
        "target_id": str(target.pk),
        "target_label": str(target)[:200],
        "case_ref": case_ref,
        "appeal_ref": appeal_ref,
        "before": _json_text(before),
        "after": _json_text(after),
        "reason": reason,
    }
    event_id = _insert(fields)
    _integrate_after_commit()
    event = AuditEvent(
        id=event_id, **{**fields, "before": json.loads(fields["before"]), "after": json.loads(fields["after"])}
    )
    event._state.adding, event._state.db = False, connection.alias
    return event


def record_events(*, actor, events: list[dict], batch_size: int = 1000) -> int:
    """Append many events at once (bulk mirror updates): multi-row INSERTs, no lock and
    no read, the sequencer chains them after commit like any other row. Each dict holds
    record_event's keyword arguments except actor."""
    if not events:
        return 0
    if not connection.in_atomic_block:
        raise RuntimeError("record_events() must run inside the transaction that makes the change.")
    unknown = {e["verb"] for e in events} - set(VERBS)
    if unknown:
        raise ValueError(f"Unregistered audit verbs {sorted(unknown)!r}")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    actor_id, label = (actor.pk if actor is not None and actor.pk else None), actor_label_for(actor)
    rows = [
        [
            now,
            actor_id,
            label,
            spec["verb"],
            spec["target"]._meta.label_lower,
            str(spec["target"].pk),
            str(spec["target"])[:200],
            spec.get("case_ref"),
            spec.get("appeal_ref"),
            _json_text(spec.get("before")),
            _json_text(spec.get("after")),
            spec.get("reason", ""),
        ]
        for spec in events
    ]
    width = len(rows[0])
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
            sql = f"INSERT INTO moderation_auditevent ({_INSERT_COLUMNS}) VALUES {values}"  # noqa: S608
            cursor.execute(sql, [value for row in chunk for value in row])
    _integrate_after_commit()
    return len(rows)


_INSERT_COLUMNS = (
    "occurred_at, actor_id, actor_label, verb, target_type, target_id, target_label, case_ref, appeal_ref, "
    '"before", "after", reason'
)


def _json_text(value: dict | None) -> str:
    return json.dumps(value or {}, cls=DjangoJSONEncoder, sort_keys=True)


def _insert(fields: dict) -> int:
    """One plain INSERT (the ORM's save costs a writer more than the statement does)."""
    params = list(fields.values())
    params[0] = connection.ops.adapt_datetimefield_value(params[0])
    sql = f"INSERT INTO moderation_auditevent ({_INSERT_COLUMNS}) VALUES ({', '.join(['%s'] * len(params))})"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(sql + " RETURNING id", params)
            return cursor.fetchone()[0]
        cursor.execute(sql, params)
        return cursor.lastrowid


def _integrate_after_commit() -> None:
    """Inline mode (SQLite default, tests): integrate once this transaction commits.
    In production the RQ cron runs the sequencer instead (supervision/cron.py)."""
    from moderation.audit_sequencer import integrate_audit_log_job, runs_after_each_commit
    from moderation.jobs import enqueue_once

    if runs_after_each_commit():
        enqueue_once(integrate_audit_log_job, queue="audit")


# --- the hashed encoding -----------------------------------------------------------------
#
# An entry's hash is SHA-256 over ENTRY_PREFIX, the previous entry's hash (hex), "\n", its
# position `seq`, "\n", and its payload: a JSON array [id, occurred_at, actor_id,
# actor_label, verb, target_type, target_id, target_label, case_ref, appeal_ref, before,
# after, reason] as the database writes it (PostgreSQL's json_build_array with the time as
# UTC "YYYY-MM-DDTHH:MM:SS.ffffff" and the JSON columns in jsonb's normalised form;
# SQLite's json_array over the stored text). The sequencer and the verifier read it with
# the same query (chain_columns), so neither builds model instances or re-serialises JSON
# in Python; the database's canonical text of a row is what is chained.

_PAYLOAD = {
    "postgresql": (
        "json_build_array(id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), actor_id, "
        'actor_label, verb, target_type, target_id, target_label, case_ref, appeal_ref, "before", "after", '
        "reason)::text"
    ),
    "sqlite": (
        "json_array(id, occurred_at, actor_id, actor_label, verb, target_type, target_id, target_label, case_ref, "
        'appeal_ref, CASE WHEN json_valid("before") THEN json("before") ELSE "before" END, '
        'CASE WHEN json_valid("after") THEN json("after") ELSE "after" END, reason)'
    ),
}


def chain_columns() -> str:
    """SELECT list: id, seq, prev_hash, hash, payload (the hashed content, as text)."""
    return f"id, seq, prev_hash, hash, {_PAYLOAD[connection.vendor]}"


def entry_hash(prev_hash: str, seq: int, payload: str) -> str:
    """Hash of one chain entry; `payload` is the last column read with chain_columns()."""
    return hashlib.sha256(ENTRY_PREFIX + f"{prev_hash}\n{seq}\n{payload}".encode()).hexdigest()


def _chain_rows(batch_size: int) -> Iterator[tuple]:
    """Integrated rows in chain order, streamed: a server-side cursor on PostgreSQL."""
    sql = f"SELECT {chain_columns()} FROM moderation_auditevent WHERE seq IS NOT NULL ORDER BY seq"  # noqa: S608
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        with connection.connection.cursor(name="audit_chain_walk") as cursor:
            cursor.execute(sql)
            yield from _prefetched(cursor, batch_size)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch_size):
            yield from rows


def _prefetched(cursor, batch_size: int) -> Iterator[tuple]:
    """Rows of a server-side cursor, the next batch fetched in a thread while this one is
    hashed, so the server's work and ours overlap. At most three batches are in memory."""
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch():
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(batch_size)
                while not stop.is_set():
                    try:
                        batches.put(rows, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if not rows:
                    return
        except Exception as exc:  # handed to the reader
            batches.put(exc)

    fetcher = threading.Thread(target=fetch, name="audit-chain-fetch", daemon=True)
    fetcher.start()
    try:
        while True:
            rows = batches.get()
            if isinstance(rows, Exception):
                raise rows
            if not rows:
                return
            yield from rows
    finally:
        stop.set()
        fetcher.join()


# --- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # edited, deleted, relinked, rewritten, truncated, forged, reordered, equivocated
    text: str
    event_id: int | None = None


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str = ""
    problems: tuple[Problem, ...] = ()
    heads_checked: int = 0
    newest_head_size: int | None = None
    pending: int = 0
    oldest_pending: datetime | None = None
    kinds: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problem

    def summary(self) -> str:
        if self.ok:
            text = f"Audit chain intact: {self.checked} events verified"
        elif self.broken_at is not None:
            text = (
                f"Audit chain broken at event #{self.broken_at}: {self.problem} "
                f"({self.checked} events verified before it)"
            )
        else:
            text = f"Audit log tampered with: {self.problem} ({self.checked} events verified before it)"
        extra = [f"{self.heads_checked} signed heads checked"]
        if len(self.problems) > 1:
            extra.append(f"{len(self.problems) - 1} more problem(s): " + "; ".join(p.text for p in self.problems[1:]))
        if self.pending:
            extra.append(f"{self.pending} events awaiting integration")
        return f"{text}. " + ", ".join(extra) + "."


class _Findings:
    def __init__(self):
        self.problems: list[Problem] = []
        self.checked_before_first = 0

    def add(self, kind: str, text: str, event_id: int | None = None, checked: int = 0) -> None:
        if not self.problems:
            self.checked_before_first = checked
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(kind, text, event_id))


def _valid_heads(heads: Iterable, findings: _Findings, counter: list[int]) -> Iterator:
    """Heads whose signature holds, in publication order (sizes never go down)."""
    from moderation.audit_heads import verify_head

    last = None
    for number, head in enumerate(heads, start=1):
        counter[0] = number
        if not verify_head(head):
            findings.add("forged", f"signed head no. {number} (size {head.size}, {head.time}) is forged: bad signature")
            continue
        if last is not None and head.size < last.size:
            findings.add("reordered", f"signed head no. {number} (size {head.size}) comes after size {last.size}")
            continue
        if last is not None and head.size == last.size:
            if head.root != last.root:
                findings.add("equivocated", f"two signed heads disagree about position {head.size}: key compromised?")
            continue
        last = head
        yield head


def verify_chain(batch_size: int = 10_000) -> ChainReport:
    """Walk the chain in sequence order, then hold every signed head against it.

    Names edited rows (hash mismatch), deleted rows (gap in the sequence), rows linked to
    a changed predecessor, history rewritten and re-hashed (a signed head no longer
    matches), a truncated table or missing newest rows (the newest head is longer than
    the chain) and forged heads (bad signature). Memory stays flat: rows come from a
    server-side cursor, heads from the sink one at a time."""
    from moderation.audit_heads import head_sink
    from moderation.models import AuditEvent

    heads = head_sink().snapshot()  # before the rows: every head read is covered by committed rows
    findings = _Findings()
    head_count = [0]
    with transaction.atomic():
        waiting = AuditEvent.objects.filter(seq__isnull=True).aggregate(
            n=models.Count("id"), t=models.Min("occurred_at")
        )
        valid = _valid_heads(heads, findings, head_count)
        head = next(valid, None)
        newest = head
        last_good_head = 0
        rewritten = False
        prev = GENESIS_HASH
        expected = 1
        walked = 0
        sha256, prefix = hashlib.sha256, ENTRY_PREFIX
        for row in _chain_rows(batch_size):
            event_id, seq, prev_hash, stored, payload = row
            if seq != expected:
                gap = f"position {expected}" if seq == expected + 1 else f"positions {expected}-{seq - 1}"
                findings.add("deleted", f"event at {gap} deleted (next is #{event_id})", event_id, walked)
            elif prev_hash != prev:
                findings.add("relinked", f"event #{event_id} no longer links to the event before it", event_id, walked)
            if sha256(prefix + f"{prev_hash}\n{seq}\n{payload}".encode()).hexdigest() != stored:
                findings.add(
                    "edited",
                    f"event #{event_id} (position {seq}) edited: content does not match its hash",
                    event_id,
                    walked,
                )
            while head is not None and head.size <= seq:
                if head.size == seq and head.root != stored and not rewritten:
                    rewritten = True  # every later head differs too; the first one locates the edit
                    findings.add(
                        "rewritten",
                        f"history rewritten: the head signed {head.time} for {head.size} events does not match the "
                        f"table (an event at positions {last_good_head + 1}-{head.size} edited, all after re-hashed)",
                        event_id,
                        walked,
                    )
                elif head.size == seq and not rewritten:
                    last_good_head = head.size
                newest = head
                head = next(valid, None)
            prev = stored
            expected = seq + 1
            walked += 1
        if head is not None:
            newest = head
        for later in valid:
            newest = later
        if newest is not None and newest.size >= expected:
            if walked == 0:
                text = f"table truncated: the head signed {newest.time} covers {newest.size} events, the table has none"
            else:
                text = (
                    f"newest events deleted: the head signed {newest.time} covers {newest.size} events, "
                    f"the chain ends at position {expected - 1}"
                )
            findings.add("truncated", text, None, walked)
    problems = tuple(findings.problems)
    first = problems[0] if problems else None
    return ChainReport(
        checked=findings.checked_before_first if first else walked,
        broken_at=first.event_id if first else None,
        problem=first.text if first else "",
        problems=problems,
        heads_checked=head_count[0],
        newest_head_size=newest.size if newest else None,
        pending=waiting["n"],
        oldest_pending=waiting["t"],
        kinds=tuple(p.kind for p in problems),
    )

"""The audit log as a transparency log (after Certificate Transparency and Trillian).

Writers append: `record_event` inserts one row in the changing transaction (and its id in
the sequencer's queue, AuditPending, in the same statement), with no lock shared with other
writers. The row is never updated afterwards. The sequencer (moderation.audit_sequencer)
later gives committed rows their position (`seq`) and hash as rows of a narrow side table,
AuditChainEntry, in batches, and signs a head (size, hash of the last entry, time) that goes
to a sink outside the database (moderation.audit_heads). `verify_chain` streams the chain
joined to the events and checks every signed head against it, so a rewrite by someone who
owns the database shows.

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

import orjson
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from moderation.rows import prepared_cursor

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
        "before": json_text(before),
        "after": json_text(after),
        "reason": reason,
    }
    event_id = _insert(fields)
    integrate_after_commit()
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
            json_text(spec.get("before")),
            json_text(spec.get("after")),
            spec.get("reason", ""),
        ]
        for spec in events
    ]
    width = len(rows[0])
    with prepared_cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            if connection.vendor == "postgresql":
                _insert_queued_document(cursor, chunk)
                continue
            values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
            _insert_queued(cursor, values, [value for row in chunk for value in row])
    integrate_after_commit()
    return len(rows)


# The columns of an event INSERT, in the order record_event fills them (writers that build
# their own statement, e.g. cases.claim_statement, name them the same way).
EVENT_COLUMNS = (
    "occurred_at, actor_id, actor_label, verb, target_type, target_id, target_label, case_ref, appeal_ref, "
    '"before", "after", reason'
)


def json_text(value: dict | None) -> str:
    """How before/after are written: sorted keys, times as DjangoJSONEncoder gives them."""
    return json.dumps(value or {}, cls=DjangoJSONEncoder, sort_keys=True)


def _insert(fields: dict) -> int:
    """One INSERT of the row and its queue entry (the ORM's save costs a writer more than
    the statement does)."""
    params = list(fields.values())
    params[0] = connection.ops.adapt_datetimefield_value(params[0])
    with connection.cursor() as cursor:
        return _insert_queued(cursor, "(" + ", ".join(["%s"] * len(params)) + ")", params)[0]


def _insert_queued(cursor, values: str, params: list) -> list[int]:
    """Insert events and queue their ids for the sequencer: one statement on PostgreSQL
    (a data-modifying CTE), two on SQLite. Returns the new ids."""
    insert = f"INSERT INTO moderation_auditevent ({EVENT_COLUMNS}) VALUES {values} RETURNING id"  # noqa: S608
    if connection.vendor == "postgresql":
        cursor.execute(
            f"WITH e AS ({insert}) INSERT INTO moderation_auditpending (event_id) SELECT id FROM e RETURNING event_id",  # noqa: S608
            params,
        )
        return [row[0] for row in cursor.fetchall()]
    cursor.execute(insert, params)
    ids = [row[0] for row in cursor.fetchall()]
    cursor.executemany("INSERT INTO moderation_auditpending (event_id) VALUES (%s)", [(pk,) for pk in ids])
    return ids


# The rows of record_events as one JSON array of arrays (one parameter, not twelve a row,
# each adapted in Python): unpacked in order, so ids keep the order of the events.
_FROM_DOCUMENT = (
    "SELECT (r.v->>0)::timestamptz, (r.v->>1)::integer, r.v->>2, r.v->>3, r.v->>4, r.v->>5, r.v->>6, "
    "(r.v->>7)::bigint, (r.v->>8)::bigint, (r.v->>9)::jsonb, (r.v->>10)::jsonb, r.v->>11 "
    "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r(v, n) ORDER BY r.n"
)


def _insert_queued_document(cursor, rows: list[list]) -> list[int]:
    """PostgreSQL: the events and their queue entries in one statement, from one JSON
    document. The JSON columns travel as the same text json_text makes for VALUES."""
    rows = [[row[0].isoformat(), *row[1:]] for row in rows]
    try:  # plain values only (the JSON columns are already text): orjson is C, and the same JSON
        document = orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        document = json.dumps(rows)
    cursor.execute(
        f"WITH e AS (INSERT INTO moderation_auditevent ({EVENT_COLUMNS}) {_FROM_DOCUMENT} RETURNING id) "  # noqa: S608
        "INSERT INTO moderation_auditpending (event_id) SELECT id FROM e RETURNING event_id",
        [document],
    )
    return [row[0] for row in cursor.fetchall()]


def integrate_after_commit() -> None:
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
# the same expression (payload_sql), so neither builds model instances or re-serialises
# JSON in Python; the database's canonical text of a row is what is chained. The entry
# (seq, event_id, hash) lives in moderation_auditchainentry; the previous hash is the
# previous entry's, so it is not stored twice.

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


def payload_sql() -> str:
    """The hashed content of an event (columns of moderation_auditevent), as text."""
    return _PAYLOAD[connection.vendor]


CHAIN_WALK_SQL = (
    "SELECT c.seq, c.event_id, c.hash, {payload} FROM moderation_auditchainentry AS c "
    "JOIN moderation_auditevent ON moderation_auditevent.id = c.event_id {where} ORDER BY c.seq"
)


def chain_walk_sql(where: str = "") -> str:
    """Chain entries joined to their events, in chain order: seq, event_id, hash, payload."""
    return CHAIN_WALK_SQL.format(payload=payload_sql(), where=where)


def entry_hash(prev_hash: str, seq: int, payload: str) -> str:
    """Hash of one chain entry; `payload` is the event's payload_sql() text."""
    return hashlib.sha256(ENTRY_PREFIX + f"{prev_hash}\n{seq}\n{payload}".encode()).hexdigest()


def _chain_rows(batch_size: int, snapshot: str | None) -> Iterator[tuple]:
    """Chain entries with their events' payloads, in chain order, as plain tuples (no model
    instances). On PostgreSQL with an exported snapshot: keyset blocks of `batch_size`
    positions fetched by parallel connections (_blocks); inside a caller's transaction,
    whose rows other connections cannot see: one server-side cursor. SQLite: fetchmany."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            _walk_in_order(cursor)
            cursor.execute("SELECT max(seq) FROM moderation_auditchainentry")
            last = cursor.fetchone()[0] or 0
        if snapshot is not None:
            yield from _blocks(snapshot, last, batch_size, settings.AUDIT.get("VERIFY_CONNECTIONS", 4))
            return
        with connection.connection.cursor(name="audit_chain_walk") as cursor:
            cursor.itersize = batch_size
            cursor.execute(chain_walk_sql())
            yield from _prefetched(cursor, batch_size)
        return
    with connection.cursor() as cursor:
        cursor.execute(chain_walk_sql())
        while rows := cursor.fetchmany(batch_size):
            yield from rows


def _walk_in_order(cursor) -> None:
    """The walk is only right as ordered index scans (the chain by seq, each event by its
    primary key): no sort of a million payloads, no hash of either table. Said for this
    transaction only (the planner's estimates of a fast-growing table lag behind)."""
    cursor.execute(
        "SELECT set_config('enable_sort', 'off', true), set_config('enable_hashjoin', 'off', true), "
        "set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), "
        "set_config('cursor_tuple_fraction', '1', true)"
    )


def _blocks(snapshot: str, last: int, block: int, workers: int) -> Iterator[tuple]:
    """Positions 1..last in blocks of `block`, each a keyset query (seq BETWEEN a AND b) run
    by one of `workers` threads, each on its own connection in the exporting transaction's
    snapshot, so the database builds payloads on several cores while this thread hashes.
    Blocks are handed over in order; at most workers + 1 wait in memory."""
    sql = chain_walk_sql("WHERE c.seq BETWEEN %s AND %s")
    count = -(-last // block)
    ready: dict[int, list] = {}
    state = {"next": 0, "consumed": 0, "error": None, "stop": False}
    changed = threading.Condition()
    window = workers + 1

    def fetch():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
                _walk_in_order(cursor)
                while True:
                    with changed:
                        while not state["stop"] and state["next"] - state["consumed"] >= window:
                            changed.wait()
                        if state["stop"] or state["next"] >= count:
                            return
                        number = state["next"]
                        state["next"] += 1
                    cursor.execute(sql, [number * block + 1, (number + 1) * block])
                    rows = cursor.fetchall()
                    with changed:
                        ready[number] = rows
                        changed.notify_all()
        except Exception as exc:  # handed to the reader
            with changed:
                state["error"] = exc
                changed.notify_all()
        finally:
            connection.close()

    threads = [threading.Thread(target=fetch, name=f"audit-chain-fetch-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for number in range(count):
            with changed:
                while number not in ready and state["error"] is None:
                    changed.wait()
                if state["error"] is not None:
                    raise state["error"]
                rows = ready.pop(number)
                state["consumed"] = number + 1
                changed.notify_all()
            yield from rows
            del rows
    finally:
        with changed:
            state["stop"] = True
            changed.notify_all()
        for thread in threads:
            thread.join()


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


def _counts() -> tuple[int, int, datetime | None]:
    """Events in the table, events awaiting integration and the oldest of them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM moderation_auditevent")
        events = cursor.fetchone()[0]
    waiting, oldest = pending_events()
    return events, waiting, oldest


def pending_events() -> tuple[int, datetime | None]:
    """How many events wait for the sequencer, and when the oldest of them happened.

    Counted in the queue alone, and the oldest read as the first queued id (ids are
    taken as events are written, a moment after their time is): joining the queue to
    the event table read all of the table once the queue grew (1.2 s at 111,000 waiting
    over 1.6 million events), and a queue grows exactly when the sequencer has stopped,
    which is when a supervisor opens this figure."""
    from moderation.models import AuditEvent, AuditPending

    queue = AuditPending.objects.aggregate(n=models.Count("event_id"), first=models.Min("event_id"))
    if not queue["n"]:
        return 0, None
    oldest = AuditEvent.objects.filter(pk=queue["first"]).values_list("occurred_at", flat=True).first()
    return queue["n"], oldest


@dataclass(frozen=True)
class Problem:
    kind: str  # edited, deleted, rewritten, truncated, unchained, forged, reordered, equivocated
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

    Names edited rows (hash mismatch), deleted rows (gap in the sequence), history
    rewritten and re-hashed (a signed head no longer matches), a truncated table or
    missing newest rows (the newest head is longer than the chain), events neither chained
    nor queued, and forged heads (bad signature). Memory stays flat: rows come from a
    server-side cursor in batches, heads from the sink one at a time."""
    from moderation.audit_heads import head_sink

    heads = head_sink().snapshot()  # before the rows: every head read is covered by committed rows
    findings = _Findings()
    head_count = [0]
    one_snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    snapshot = None
    with transaction.atomic():
        if one_snapshot:  # the counts and every block of the walk see the same table
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
        events, waiting, oldest = _counts()
        valid = _valid_heads(heads, findings, head_count)
        head = next(valid, None)
        newest = head
        last_good_head = 0
        rewritten = False
        prev = GENESIS_HASH
        expected = 1
        walked = 0
        sha256, prefix = hashlib.sha256, ENTRY_PREFIX
        for seq, event_id, stored, payload in _chain_rows(batch_size, snapshot):
            if seq != expected:
                gap = f"position {expected}" if seq == expected + 1 else f"positions {expected}-{seq - 1}"
                findings.add("deleted", f"event at {gap} deleted (next is #{event_id})", event_id, walked)
            elif sha256(prefix + f"{prev}\n{seq}\n{payload}".encode()).hexdigest() != stored:
                findings.add(
                    "edited",
                    f"event #{event_id} (position {seq}) edited: content does not match its hash",
                    event_id,
                    walked,
                )
            if head is not None and head.size <= seq:
                while head is not None and head.size <= seq:
                    if head.size == seq and head.root != stored and not rewritten:
                        rewritten = True  # every later head differs too; the first one locates the edit
                        findings.add(
                            "rewritten",
                            f"history rewritten: the head signed {head.time} for {head.size} events does not match "
                            f"the table (an event at positions {last_good_head + 1}-{head.size} edited, all after "
                            "re-hashed)",
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
        if events > walked + waiting:
            findings.add(
                "unchained",
                f"{events - walked - waiting} events are neither chained nor awaiting integration "
                "(their chain or queue entries were removed)",
                None,
                walked,
            )
    problems = tuple(findings.problems)
    first = problems[0] if problems else None
    return ChainReport(
        checked=findings.checked_before_first if first else walked,
        broken_at=first.event_id if first else None,
        problem=first.text if first else "",
        problems=problems,
        heads_checked=head_count[0],
        newest_head_size=newest.size if newest else None,
        pending=waiting,
        oldest_pending=oldest,
        kinds=tuple(p.kind for p in problems),
    )

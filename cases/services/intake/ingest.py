"""Signals in: a batch split into chunks of whole accounts, each stored in its own
transaction, idempotent per client and key.

Row writes come first and audit rows last, so two transactions racing for the same
case or idempotency key never wait on each other while one holds the audit chain's lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from cases.models import Queue, Signal
from cases.routing import route
from cases.services.intake.chunk import LostRace, store_chunk
from cases.services.intake.inputs import DEFAULT_REPORT_POLICY, IngestResult, SignalIn
from moderation import setwise
from moderation.mirror.concurrency import (
    ADVISORY_NAMESPACE,
    ATTEMPTS,
    StillRacing,
    backoff,
    is_race,
    lock_keys,
    try_lock_keys,
)
from moderation.models import ApiClient, Policy
from moderation.rows import prepared_cursor

CHUNK_SIZE = 250
"""Signals per transaction. Row locks on a chunk's cases, and the audit chain's lock
at its end, are held for one chunk only, so other writers wait milliseconds."""


def ingest_signals(*, client: ApiClient, items: Iterable[SignalIn], now: datetime | None = None) -> list[IngestResult]:
    """Store each signal (once per idempotency key) and join or open its case.

    The batch is stored in chunks of whole accounts (a busy account spans several
    chunks, in order), each chunk one transaction that is committed before the next
    starts. A chunk looks its keys up once, under their locks: those stored before are
    answered as duplicates (a lookup of the whole batch first would read every key
    twice). The caller acknowledges only after all returned, so an acknowledged signal
    is never lost and a retried batch stores nothing twice. Results come back in input
    order.
    """
    items = list(items)
    results: list[IngestResult | None] = [None] * len(items)
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        first.setdefault(item.idempotency_key, i)
    lookups = Lookups()
    # Keys another post is storing right now (its chunk holds their locks) are left for
    # the end, with every later signal on their accounts (an account's signals keep
    # their order): by then that post has committed them and they come back as
    # duplicates, and meanwhile this post stored the rest instead of waiting.
    later: list[int] = []
    busy_accounts: set[str] = set()
    for chunk in _chunks(items, list(first.values())):
        now_part = [i for i in chunk if items[i].account not in busy_accounts]
        later.extend(i for i in chunk if items[i].account in busy_accounts)
        if not now_part:
            continue
        left = _ingest_chunk(
            client=client, items=items, indexes=now_part, results=results, now=now, lookups=lookups, wait=False
        )
        busy_accounts.update(items[i].account for i in left)
        later.extend(left)
    for chunk in _chunks(items, sorted(later)):
        _ingest_chunk(client=client, items=items, indexes=chunk, results=results, now=now, lookups=lookups)
    for i, item in enumerate(items):
        if results[i] is None:  # a repeat of a key earlier in this batch
            original = results[first[item.idempotency_key]]
            results[i] = IngestResult(IngestResult.DUPLICATE, original.signal_id, original.case_id)
    return results


def ingest_signal(*, client: ApiClient, item: SignalIn, now: datetime | None = None) -> IngestResult:
    """One signal: a batch of one, so single and batch signals take the same path."""
    return ingest_signals(client=client, items=[item], now=now)[0]


# The lookup every batch makes once and every chunk again under its key locks: one
# statement with one array parameter, written out (the ORM compiles it anew each time).
_EXISTING_SQL = (
    "SELECT idempotency_key, id, case_id FROM cases_signal WHERE client_id = %s AND idempotency_key = ANY(%s)"
)


def existing_results(client: ApiClient, keys: list[str]) -> dict[str, IngestResult]:
    """The signals this client already stored under these keys, answered as duplicates."""
    found = {}
    for start in range(0, len(keys), 1000):
        part = keys[start : start + 1000]
        if setwise.available():
            with prepared_cursor() as cursor:
                cursor.execute(_EXISTING_SQL, [client.pk, part])
                rows = cursor.fetchall()
        else:
            rows = Signal.objects.filter(client=client, idempotency_key__in=part).values_list(
                "idempotency_key", "pk", "case_id"
            )
        for key, pk, case_id in rows:
            found[key] = IngestResult(IngestResult.DUPLICATE, pk, case_id)
    return found


def _chunks(items: list[SignalIn], indexes: list[int]) -> Iterable[list[int]]:
    """Whole accounts per chunk, in order of first appearance, so the mirror copy of an
    account is refreshed in the order its signals were sent."""
    groups: dict[str, list[int]] = {}
    for i in indexes:
        groups.setdefault(items[i].account, []).append(i)
    chunk: list[int] = []
    for members in groups.values():
        for start in range(0, len(members), CHUNK_SIZE):
            part = members[start : start + CHUNK_SIZE]
            if chunk and len(chunk) + len(part) > CHUNK_SIZE:
                yield chunk
                chunk = []
            chunk.extend(part)
    if chunk:
        yield chunk


class Lookups:
    """Configuration read once per batch: routing, the report button's policy, and the
    queues and policies of the open cases the batch's chunks lock (by id)."""

    def __init__(self):
        self.queues: dict[tuple[str, str, str], Queue] = {}
        self.report_policy: Policy | None = None
        self.queues_by_pk: dict[int, Queue] = {}
        self.policies_by_pk: dict[int, Policy] = {}

    def load(self, *, queues: set[int], policies: set[int]) -> None:
        """Read the queues and policies not read yet (one query each, when any)."""
        if missing := queues - self.queues_by_pk.keys():
            self.queues_by_pk.update(Queue.objects.in_bulk(missing))
        if missing := policies - self.policies_by_pk.keys():
            self.policies_by_pk.update(Policy.objects.in_bulk(missing))

    def queue(self, *, policy_family: str, policy_code: str, source: str) -> Queue:
        key = (policy_family, policy_code, source)
        if key not in self.queues:
            self.queues[key] = route(policy_family=policy_family, policy_code=policy_code, source=source)
        return self.queues[key]

    def default_policy(self) -> Policy:
        if self.report_policy is None:
            self.report_policy = Policy.objects.current().get(code=DEFAULT_REPORT_POLICY)
        return self.report_policy


def _check_references_as_written() -> None:
    """Foreign keys checked by each INSERT rather than all at commit (Django declares
    them DEFERRABLE INITIALLY DEFERRED): the checks then run before the chunk locks the
    cases it joined, not while it holds them. Only in the chunk's own transaction: in a
    caller's, it would also check what the caller left deferred."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _ingest_chunk(*, client, items, indexes, results, now, lookups, wait: bool = True) -> list[int]:
    """One transaction, run again after a race (inside the server, never by the client).

    It first takes the chunk's idempotency keys (advisory locks, in sorted order), then
    re-reads which of them a concurrent post stored meanwhile: those are answered as
    duplicates and left out, so two posts never insert the same key. Without `wait`,
    a key another transaction holds is not waited for: its item, and the chunk's other
    items on the same account, are left out and returned (the caller runs them later,
    waiting). A deadlock with a writer outside this order, or a case another chunk
    opened on the same subject a moment ago, rolls the chunk back; it is run again after
    a jittered pause."""
    own_transaction = not connection.in_atomic_block
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                if own_transaction and setwise.available():
                    _check_references_as_written()
                left, taken = _take_keys(client, items, indexes, wait=wait)
                keys = [items[i].idempotency_key for i in taken]
                known = existing_results(client, keys)
                pending = [i for i in taken if items[i].idempotency_key not in known]
                stored = {}
                if pending:
                    stored = store_chunk(
                        client=client,
                        entries=[(i, items[i]) for i in pending],
                        now=now or timezone.now(),
                        lookups=lookups,
                    )
        except (IntegrityError, OperationalError, LostRace) as exc:
            if not (isinstance(exc, LostRace) or is_race(exc)):
                raise
            if attempt == ATTEMPTS - 1:
                raise StillRacing(f"a chunk of {len(indexes)} signals lost {ATTEMPTS} races") from exc
            backoff(attempt)
            continue
        for i in taken:
            results[i] = stored.get(i) or known[items[i].idempotency_key]
        return left
    raise AssertionError("unreachable")


def _take_keys(client, items, indexes, *, wait: bool) -> tuple[list[int], list[int]]:
    """(left out, taken): the items whose idempotency keys this transaction now holds,
    and without `wait` those it leaves for later (a key busy elsewhere, and every item
    of the chunk on that key's account)."""
    name = f"{client.pk}:{{}}".format
    if wait:
        lock_keys(ADVISORY_NAMESPACE, [name(items[i].idempotency_key) for i in indexes])
        return [], indexes
    busy = try_lock_keys(ADVISORY_NAMESPACE, [name(items[i].idempotency_key) for i in indexes])
    if not busy:
        return [], indexes
    accounts = {items[i].account for i in indexes if name(items[i].idempotency_key) in busy}
    left = [i for i in indexes if items[i].account in accounts]
    return left, [i for i in indexes if items[i].account not in accounts]

"""Signals in, cases out: storing signals idempotently, joining or opening cases,
snapshots, priority, staff evidence and reporter muting.

Signals are stored in chunks (up to CHUNK_SIZE signals of whole accounts per
transaction) with bulk reads and writes, one audit row per case per chunk. Row writes
come first and audit rows last, so two transactions racing for the same case or
idempotency key never wait on each other while one holds the audit chain's lock.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from django.utils.text import slugify

from cases import permissions
from cases.models import (
    OPEN_CASE_STATUSES,
    ActionStatus,
    Case,
    CaseStatus,
    EnforcementAction,
    Evidence,
    EvidenceKind,
    Queue,
    ReporterStanding,
    RoutingRule,
    Signal,
)
from cases.priority import compute_priority
from cases.routing import route
from moderation.audit import record_event
from moderation.models import (
    STORY_OUTCOMES,
    Account,
    ApiClient,
    ApiClientKey,
    PartnerStatus,
    Policy,
    Severity,
    SignalSource,
    Story,
)
from moderation.roles import Role
from moderation.uploads import JPEG, PDF, PNG, TEXT, check_upload

READER_FAMILY = "reader"
"""Family of cases opened by 'show less' alone: a quality signal that names no rule."""

DEFAULT_REPORT_POLICY = "ai.paywalled_generated"
"""The platform's 'Report story' button is for paywalled AI content (POLICY.md)."""

HUMAN_SOURCES = frozenset({SignalSource.READER_REPORT, SignalSource.SHOW_LESS, SignalSource.STAFF})
READER_SOURCES = (SignalSource.READER_REPORT, SignalSource.SHOW_LESS)

ACCOUNT_DATA_FIELDS = ("handle", "display_name", "email", "partner_status", "follower_count")
STORY_DATA_FIELDS = (
    "title",
    "url",
    "body",
    "is_paywalled",
    "distribution",
    "ai_disclosure",
    "kind",
    "published_at",
)

SIGNAL_FKS = ["case", "client", "submitted_by", "account", "story", "reporter", "policy"]

EVIDENCE_FILE_KINDS = (PNG, JPEG, PDF, TEXT)


@dataclass
class SignalIn:
    """One validated signal, as the API (or the demo) hands it to the service."""

    idempotency_key: str
    source: str
    account: str
    story: str | None = None
    reporter: str | None = None
    reason: str = ""
    account_data: dict | None = None
    story_data: dict | None = None
    policy: Policy | None = None
    detector_name: str = ""
    detector_version: str = ""
    score: float | None = None
    payload: dict = field(default_factory=dict)
    proposed_outcomes: list[str] = field(default_factory=list)
    observed_at: datetime | None = None


@dataclass(frozen=True)
class IngestResult:
    status: str  # "stored" or "duplicate"
    signal_id: int
    case_id: int | None

    STORED = "stored"
    DUPLICATE = "duplicate"


# --- ingest ----------------------------------------------------------------------

CHUNK_SIZE = 100
"""Signals per transaction. Row locks on a chunk's cases, and the audit chain's lock
at its end, are held for one chunk only, so other writers wait milliseconds."""

_RETRY_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def ingest_signals(*, client: ApiClient, items: Iterable[SignalIn], now: datetime | None = None) -> list[IngestResult]:
    """Store each signal (once per idempotency key) and join or open its case.

    Known keys are looked up for the whole batch at once. The rest is stored in chunks
    of whole accounts (a busy account spans several chunks, in order), each chunk one
    transaction that is committed before the next starts; the caller acknowledges only
    after all returned, so an acknowledged signal is never lost and a retried batch
    stores nothing twice. Results come back in input order.
    """
    items = list(items)
    results: list[IngestResult | None] = [None] * len(items)
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        first.setdefault(item.idempotency_key, i)
    known = _existing(client, list(first))
    fresh = [i for key, i in first.items() if key not in known]
    for key, i in first.items():
        results[i] = known.get(key)
    lookups = _Lookups()
    for chunk in _chunks(items, fresh):
        _ingest_chunk(client=client, items=items, indexes=chunk, results=results, now=now, lookups=lookups)
    for i, item in enumerate(items):
        if results[i] is None:  # a repeat of a key earlier in this batch
            original = results[first[item.idempotency_key]]
            results[i] = IngestResult(IngestResult.DUPLICATE, original.signal_id, original.case_id)
    return results


def ingest_signal(*, client: ApiClient, item: SignalIn, now: datetime | None = None) -> IngestResult:
    """One signal: a batch of one, so single and batch signals take the same path."""
    return ingest_signals(client=client, items=[item], now=now)[0]


def _existing(client: ApiClient, keys: list[str]) -> dict[str, IngestResult]:
    found = {}
    for start in range(0, len(keys), 1000):
        rows = Signal.objects.filter(client=client, idempotency_key__in=keys[start : start + 1000])
        for key, pk, case_id in rows.values_list("idempotency_key", "pk", "case_id"):
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


class _Lookups:
    """Configuration read once per batch: routing and the report button's policy."""

    def __init__(self):
        self.queues: dict[tuple[str, str, str], Queue] = {}
        self.report_policy: Policy | None = None

    def queue(self, *, policy_family: str, policy_code: str, source: str) -> Queue:
        key = (policy_family, policy_code, source)
        if key not in self.queues:
            self.queues[key] = route(policy_family=policy_family, policy_code=policy_code, source=source)
        return self.queues[key]

    def default_policy(self) -> Policy:
        if self.report_policy is None:
            self.report_policy = Policy.objects.current().get(code=DEFAULT_REPORT_POLICY)
        return self.report_policy


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) in _RETRY_SQLSTATES


def _ingest_chunk(*, client, items, indexes, results, now, lookups) -> None:
    """One transaction; if a concurrent post stored some of the same keys first (or the
    database broke a deadlock), those are answered as duplicates and the rest retried."""
    pending = list(indexes)
    for attempt in range(3):
        try:
            with transaction.atomic():
                stored = _store_chunk(
                    client=client, entries=[(i, items[i]) for i in pending], now=now or timezone.now(), lookups=lookups
                )
        except (IntegrityError, OperationalError) as exc:
            if not _retryable(exc) or attempt == 2:
                raise
            known = _existing(client, [items[i].idempotency_key for i in pending])
            if isinstance(exc, IntegrityError) and not known:
                raise
            for i in pending:
                results[i] = known.get(items[i].idempotency_key)
            pending = [i for i in pending if results[i] is None]
            if not pending:
                return
            continue
        for i, result in stored.items():
            results[i] = result
        return


@dataclass
class _Touched:
    """What a chunk did to one case, for the stats refresh and the audit rows."""

    case: Case
    was_automated: bool
    opened: dict | None = None  # the case.opened audit payload
    signals: list[Signal] = field(default_factory=list)
    attached: list[int] = field(default_factory=list)  # earlier 'show less' signals it took up
    proposing: list[Signal] = field(default_factory=list)
    proposals: list[EnforcementAction] = field(default_factory=list)


def _store_chunk(*, client: ApiClient, entries: list[tuple[int, SignalIn]], now: datetime, lookups) -> dict:
    """Rows first (mirror, cases, signals, evidence, proposals, stats), audit rows last."""
    accounts, created_accounts = _chunk_accounts(entries, now=now)
    stories, created_stories = _chunk_stories(entries, accounts)
    muted_ids = _muted_reporters({accounts[item.reporter] for _, item in entries if item.reporter})
    subjects = {(accounts[item.account].pk, stories[item.story].pk if item.story else None) for _, item in entries}
    open_cases = _lock_open_cases(subjects, accounts)

    touched: dict[int, _Touched] = {}
    timeline: list = []  # signals and snapshots, in the order their evidence is written
    waiting: dict[tuple, list[Signal]] = {}  # 'show less' signals without a case, per subject
    dirty: dict[object, set[str]] = {}
    signals: list[tuple[int, Signal, list[str]]] = []
    case_at_store: dict[int, Case | None] = {}

    def touch(case: Case) -> _Touched:
        if case.pk not in touched:
            touched[case.pk] = _Touched(case=case, was_automated=case.automated_origin)
        return touched[case.pk]

    def open_case(subject, signal: Signal, family: str) -> tuple[Case, bool]:
        account, story = signal.account, signal.story
        queue = lookups.queue(
            policy_family=family, policy_code=signal.policy.code if signal.policy else "", source=signal.source
        )
        case, opened = _insert_case(
            account=account,
            story=story,
            policy_family=family,
            policy=signal.policy,
            source=signal.source,
            queue=queue,
            now=now,
        )
        case.account, case.story = account, story
        open_cases.setdefault(subject, []).append(case)
        return case, opened

    for i, item in entries:
        account = accounts[item.account]
        changes = (
            ["created"]
            if created_accounts.get(item.account) == i
            else _refresh(account, item.account_data, ACCOUNT_DATA_FIELDS, dirty, now=now)
        )
        story = stories[item.story] if item.story else None
        if story is not None:
            if created_stories.get(item.story) == i:
                changes = changes + ["story.created"]
            else:
                changes = changes + [
                    f"story.{name}" for name in _refresh(story, item.story_data, STORY_DATA_FIELDS, dirty)
                ]
        reporter = accounts[item.reporter] if item.reporter else None
        muted = reporter is not None and reporter.pk in muted_ids
        policy = item.policy
        if policy is None and item.source == SignalSource.READER_REPORT:
            policy = lookups.default_policy()
        signal = Signal(
            client=client,
            idempotency_key=item.idempotency_key,
            source=item.source,
            account=account,
            story=story,
            reporter=reporter,
            reason=item.reason,
            policy=policy,
            detector_name=item.detector_name,
            detector_version=item.detector_version,
            score=item.score,
            proposed_outcomes=list(item.proposed_outcomes),
            payload=item.payload or {},
            observed_at=item.observed_at or now,
            set_aside=muted,
        )
        # The related rows were just loaded or created; re-checking each FK would cost a query apiece.
        signal.full_clean(exclude=SIGNAL_FKS, validate_unique=False, validate_constraints=False)
        signals.append((i, signal, changes))
        case_at_store[i] = None
        if muted:
            continue

        subject = (account.pk, story.pk if story else None)
        on_subject = open_cases.get(subject, [])
        if signal.source == SignalSource.SHOW_LESS and policy is None:
            # 'Show less' names no rule: it joins any open case on the subject, and alone
            # opens one only once enough distinct readers said it.
            if on_subject:
                case, opened, joining = on_subject[0], False, [signal]
            else:
                if subject not in waiting:
                    waiting[subject] = list(
                        Signal.objects.filter(
                            source=SignalSource.SHOW_LESS,
                            account=account,
                            story=story,
                            case__isnull=True,
                            set_aside=False,
                        )
                        .select_related("reporter")
                        .order_by("received_at", "id")
                    )
                queued = waiting[subject]
                queued.append(signal)
                if len({s.reporter_id for s in queued}) < settings.MODERATION["SHOW_LESS_THRESHOLD"]:
                    continue
                case, opened = open_case(subject, signal, READER_FAMILY)
                joining = list(queued) if opened else [signal]
                if opened:
                    queued.clear()
                else:
                    queued.remove(signal)
        else:
            family = policy.family if policy else READER_FAMILY
            case = next((c for c in on_subject if c.policy_family == family), None)
            opened = False
            if case is None:
                case, opened = open_case(subject, signal, family)
            joining = [signal]

        state = touch(case)
        for joined in joining:
            joined.case = case
            if joined.pk is not None:  # stored earlier, waiting for enough readers
                state.attached.append(joined.pk)
            else:
                state.signals.append(joined)
            timeline.append(("signal", case, joined))
        if opened:
            snapshot = _snapshot_evidence(case)
            timeline.append(("snapshot", case, snapshot))
            state.opened = {
                "queue": case.queue.slug,
                "policy_family": case.policy_family,
                "policy": case.policy.code if case.policy else None,
                "automated_origin": case.automated_origin,
                "sla_due_at": case.sla_due_at,
                "snapshot_hash": snapshot.content_hash,
            }
        if signal.source in HUMAN_SOURCES and case.automated_origin:
            case.automated_origin = False
        if signal.source == SignalSource.DETECTOR and signal.proposed_outcomes:
            state.proposing.append(signal)
        case_at_store[i] = case

    for obj in sorted(dirty, key=lambda o: (o._meta.label, o.pk)):
        fields = sorted(dirty[obj])
        obj.full_clean(exclude=["author"], validate_unique="handle" in fields, validate_constraints=False)
        extra = ["partner_enrolled_at"] if isinstance(obj, Account) else []
        obj.save(update_fields=[*fields, *extra, "updated_at"])
    Signal.objects.bulk_create([signal for _, signal, _ in signals])
    for state in touched.values():
        if state.attached:
            Signal.objects.filter(pk__in=state.attached).update(case=state.case)
    Evidence.objects.bulk_create(
        [row if kind == "snapshot" else _signal_evidence(case, row) for kind, case, row in timeline]
    )
    _propose_all([state for state in touched.values() if state.proposing])
    for state in touched.values():
        _refresh_case_stats(state.case, now=now)

    _audit_chunk(actor=client.user, touched=list(touched.values()), signals=signals)
    return {
        i: IngestResult(IngestResult.STORED, signal.pk, case_at_store[i].pk if case_at_store[i] else None)
        for i, signal, _ in signals
    }


def _audit_chunk(*, actor, touched: list[_Touched], signals: list[tuple[int, Signal, list[str]]]) -> None:
    """One signals.received row per case (and per account for signals that joined no
    case) naming every signal, after the case.opened row and before the proposals."""
    refreshed = {id(signal): changes for _, signal, changes in signals}

    def listed(batch: list[Signal]) -> list[dict]:
        return [
            {"id": s.pk, "source": s.source, "set_aside": s.set_aside, "mirror_refreshed": refreshed[id(s)]}
            for s in batch
        ]

    for state in touched:
        case = state.case
        if state.opened is not None:
            record_event(actor=actor, verb="case.opened", target=case, after=state.opened, case_ref=case.pk)
        cleared = state.was_automated and not case.automated_origin
        record_event(
            actor=actor,
            verb="signals.received",
            target=case,
            before={"automated_origin": True} if cleared else None,
            after={
                "case": case.pk,
                "signals": listed(state.signals),
                "attached": state.attached,
                "priority": case.priority,
                "automated_origin": case.automated_origin,
            },
            case_ref=case.pk,
        )
        for action in state.proposals:
            record_event(
                actor=actor,
                verb="case.action_proposed",
                target=action,
                after={"outcome": action.outcome, "signal": action.proposed_by_signal_id, "status": action.status},
                case_ref=case.pk,
            )
    caseless: dict[int, list[Signal]] = {}
    for _, signal, _ in signals:
        if signal.case_id is None:
            caseless.setdefault(signal.account_id, []).append(signal)
    for batch in caseless.values():
        muted = [s.pk for s in batch if s.set_aside]
        record_event(
            actor=actor,
            verb="signals.received",
            target=batch[0].account,
            after={"case": None, "signals": listed(batch)},
            reason="reporter is muted" if muted else "",
        )


def _chunk_accounts(entries, *, now: datetime) -> tuple[dict[str, Account], dict[str, int]]:
    """Accounts and readers of a chunk by platform id, the missing ones created (from the
    first item's account_data, or as a reader placeholder). Also: which item created which."""
    wanted = {item.account for _, item in entries} | {item.reporter for _, item in entries if item.reporter}
    accounts = {a.platform_id: a for a in Account.objects.filter(platform_id__in=wanted)}
    created: dict[str, int] = {}
    new: list[Account] = []
    for i, item in entries:
        if item.account not in accounts and item.account_data:
            account = Account(platform_id=item.account)
            _apply(account, item.account_data, ACCOUNT_DATA_FIELDS)
            _enrol(account, now=now)
            account.full_clean(validate_unique=False, validate_constraints=False)
            accounts[item.account], created[item.account] = account, i
            new.append(account)
        if item.reporter and item.reporter not in accounts:
            # Readers may not be in the mirror yet: keep a placeholder keyed by their id.
            accounts[item.reporter] = Account(platform_id=item.reporter, handle=f"reader-{item.reporter}")
            new.append(accounts[item.reporter])
        if item.account not in accounts:
            raise Account.DoesNotExist(f"Unknown account {item.account!r} and no account_data to create it.")
    theirs = _insert_new(Account, new)
    accounts.update(theirs)
    for platform_id in theirs:  # created elsewhere a moment ago: the item refreshes it instead
        created.pop(platform_id, None)
    return accounts, created


def _chunk_stories(entries, accounts: dict[str, Account]) -> tuple[dict[str, Story], dict[str, int]]:
    """The copy of each story; story_data refreshes it but never a case's snapshot."""
    wanted = {item.story for _, item in entries if item.story}
    if not wanted:
        return {}, {}
    stories = {s.platform_id: s for s in Story.objects.filter(platform_id__in=wanted)}
    created: dict[str, int] = {}
    new: list[Story] = []
    for i, item in entries:
        if item.story and item.story not in stories:
            if not item.story_data:
                raise Story.DoesNotExist(f"Unknown story {item.story!r} and no story_data to create it.")
            story = Story(platform_id=item.story, author=accounts[item.account])
            _apply(story, item.story_data, STORY_DATA_FIELDS)
            story.full_clean(exclude=["author"], validate_unique=False, validate_constraints=False)
            stories[item.story], created[item.story] = story, i
            new.append(story)
    theirs = _insert_new(Story, new)
    stories.update(theirs)
    for platform_id in theirs:
        created.pop(platform_id, None)
    return stories, created


def _insert_new(model, rows: list) -> dict:
    """Insert rows first seen in this chunk in one statement; a row another transaction
    inserted a moment ago is used instead (returned by platform id)."""
    if not rows:
        return {}
    try:
        with transaction.atomic():
            model.objects.bulk_create(rows)
        return {}
    except IntegrityError:
        pass
    theirs = {}
    for row in rows:
        row.pk = None
        row._state.adding = True
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            theirs[row.platform_id] = model.objects.get(platform_id=row.platform_id)
    return theirs


def _enrol(account: Account, *, now: datetime) -> None:
    if account.partner_status == PartnerStatus.ACTIVE and account.partner_enrolled_at is None:
        account.partner_enrolled_at = now


def _refresh(obj, data: dict | None, fields, dirty: dict, *, now: datetime | None = None) -> list[str]:
    """Apply data to the in-memory row (saved once per chunk); the changed field names."""
    if not data:
        return []
    changed = _apply(obj, data, fields)
    if isinstance(obj, Account):
        _enrol(obj, now=now)
    if changed:
        dirty.setdefault(obj, set()).update(changed)
    return [f"account.{name}" for name in changed] if isinstance(obj, Account) else changed


def _muted_reporters(reporters: set[Account]) -> set[int]:
    """Ids of muted readers; each reader gets a standing row the first time they report."""
    if not reporters:
        return set()
    ids = {r.pk for r in reporters}
    standings = dict(ReporterStanding.objects.filter(reporter_id__in=ids).values_list("reporter_id", "muted_at"))
    missing = [ReporterStanding(reporter_id=pk) for pk in sorted(ids - set(standings))]
    if missing:
        ReporterStanding.objects.bulk_create(missing, ignore_conflicts=True)
    return {pk for pk, muted_at in standings.items() if muted_at is not None}


def _lock_open_cases(subjects: set[tuple[int, int | None]], accounts: dict[str, Account]) -> dict[tuple, list[Case]]:
    """The open cases on the chunk's subjects, locked in one ordered statement (so two
    chunks never lock them in opposite orders), oldest first per subject."""
    by_pk = {a.pk: a for a in accounts.values()}
    match = Q()
    for account_id, story_id in subjects:
        match |= Q(account_id=account_id, story_id=story_id) if story_id else Q(account_id=account_id, story=None)
    cases = (
        Case.objects.select_for_update(of=("self",))
        .filter(match, status__in=OPEN_CASE_STATUSES)
        .select_related("queue", "policy", "story")
        .order_by("id")
    )
    found: dict[tuple, list[Case]] = {}
    for case in cases:
        case.account = by_pk[case.account_id]
        found.setdefault((case.account_id, case.story_id), []).append(case)
    for on_subject in found.values():
        on_subject.sort(key=lambda c: (c.opened_at, c.pk))
    return found


def _open_case_on(account: Account, story: Story | None, *, family: str):
    return (
        Case.objects.select_for_update(of=("self",))
        .filter(account=account, story=story, status__in=OPEN_CASE_STATUSES, policy_family=family)
        .select_related("queue", "policy", "account")
        .order_by("opened_at", "id")
        .first()
    )


def open_or_join_case(
    *,
    account: Account,
    story: Story | None,
    policy_family: str,
    policy: Policy | None,
    source: str,
    now: datetime,
) -> tuple[Case, bool]:
    """The open case on (account, story, family), opening one routed by the rules if
    there is none. Returns (case, opened). Runs inside the caller's transaction; the
    caller writes the audit rows."""
    existing = _open_case_on(account, story, family=policy_family)
    if existing is not None:
        return existing, False
    queue = route(policy_family=policy_family, policy_code=policy.code if policy else "", source=source)
    return _insert_case(
        account=account, story=story, policy_family=policy_family, policy=policy, source=source, queue=queue, now=now
    )


def _insert_case(*, account, story, policy_family, policy, source, queue, now) -> tuple[Case, bool]:
    """Open a case; if another transaction opened one on the subject a moment ago
    (constraint case_one_open_per_subject_family), join that one instead."""
    case = Case(
        account=account,
        story=story,
        policy_family=policy_family,
        policy=policy,
        queue=queue,
        status=CaseStatus.OPEN,
        automated_origin=source == SignalSource.DETECTOR,
        opened_at=now,
        sla_due_at=now + queue.sla,
    )
    case.full_clean(exclude=["account", "story", "policy", "queue"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:
        existing = _open_case_on(account, story, family=policy_family)
        if existing is None:
            raise
        return existing, False
    return case, True


def _signal_evidence(case: Case, signal: Signal) -> Evidence:
    """The evidence row (unsaved) a signal puts on its case's timeline."""
    if signal.source == SignalSource.DETECTOR:
        title = f"{signal.detector_name} {signal.detector_version}: {signal.policy.code}"
        if signal.score is not None:
            title += f" (score {signal.score:.2f})"
    elif signal.reporter_id:
        title = f"{signal.get_source_display()} from @{signal.reporter.handle}"
    else:
        title = signal.get_source_display()
    return Evidence(
        case=case,
        kind=EvidenceKind.SIGNAL,
        signal=signal,
        title=title[:300],
        body=signal.reason,
        data={
            "source": signal.source,
            "policy": signal.policy.code if signal.policy else None,
            "detector": {"name": signal.detector_name, "version": signal.detector_version}
            if signal.detector_name
            else None,
            "score": signal.score,
            "observed_at": signal.observed_at.isoformat(),
        },
    )


def _propose_all(states: list[_Touched]) -> None:
    """A detector's proposed outcomes become proposals on the case (one per outcome
    still proposed); only a human decision (cases.services.review) turns them into
    approved actions."""
    if not states:
        return
    already: dict[int, set[str]] = {state.case.pk: set() for state in states}
    for case_id, outcome in EnforcementAction.objects.filter(
        case_id__in=list(already), status=ActionStatus.PROPOSED
    ).values_list("case_id", "outcome"):
        already[case_id].add(outcome)
    for state in states:
        case = state.case
        for signal in state.proposing:
            for outcome in signal.proposed_outcomes:
                if outcome in already[case.pk]:
                    continue
                action = EnforcementAction(
                    case=case,
                    proposed_by_signal=signal,
                    outcome=outcome,
                    account=case.account,
                    story=case.story if outcome in STORY_OUTCOMES else None,
                    status=ActionStatus.PROPOSED,
                )
                action.full_clean(
                    exclude=["case", "account", "story", "proposed_by_signal"], validate_constraints=False
                )
                action.save()
                already[case.pk].add(outcome)
                state.proposals.append(action)


# --- mirror -----------------------------------------------------------------------


def _apply(obj, data: dict | None, fields: Iterable[str]) -> list[str]:
    changed = []
    for name in fields:
        if data and name in data and getattr(obj, name) != data[name]:
            setattr(obj, name, data[name])
            changed.append(name)
    return changed


# --- snapshot and priority ----------------------------------------------------------


def content_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_snapshot(*, case: Case) -> Evidence | None:
    """Freeze what the reviewer judges: the story (or, for account cases, the profile)
    as the mirror holds it now. Taken once per case, when its first signal arrives."""
    if case.evidence.filter(kind=EvidenceKind.SNAPSHOT).exists():
        return None
    snapshot = _snapshot_evidence(case)
    snapshot.save()
    return snapshot


def _snapshot_evidence(case: Case) -> Evidence:
    """The snapshot row (unsaved), taken from the mirror copies as they are in memory now."""
    if case.story_id:
        story = case.story
        data = {
            "platform_id": story.platform_id,
            "author": case.account.handle,
            "kind": story.kind,
            "title": story.title,
            "url": story.url,
            "body": story.body,
            "is_paywalled": story.is_paywalled,
            "distribution": story.distribution,
            "ai_disclosure": story.ai_disclosure,
            "published_at": story.published_at.isoformat() if story.published_at else None,
        }
        title, body = f"Snapshot of “{story.title or story.platform_id}”", story.body
    else:
        account = case.account
        data = {
            "platform_id": account.platform_id,
            "handle": account.handle,
            "display_name": account.display_name,
            "status": account.status,
            "partner_status": account.partner_status,
            "follower_count": account.follower_count,
            "story_count": account.story_count,
            "reads_last_30_days": account.reads_last_30_days,
            "joined_at": account.joined_at.isoformat() if account.joined_at else None,
        }
        title, body = f"Snapshot of @{account.handle}", ""
    return Evidence(
        case=case, kind=EvidenceKind.SNAPSHOT, title=title[:300], body=body, data=data, content_hash=content_hash(data)
    )


def _refresh_case_stats(case: Case, *, now: datetime) -> list[str]:
    """Recount signals and reporters and recompute the priority; saves what changed."""
    counted = Signal.objects.filter(case=case, set_aside=False)
    stats = counted.aggregate(n=Count("id"), top=Max("score", filter=Q(source=SignalSource.DETECTOR)))
    reporters = {
        reporter_id: ReporterStanding(upheld_count=upheld or 0, rejected_count=rejected or 0).reliability
        for reporter_id, upheld, rejected in counted.filter(source__in=READER_SOURCES, reporter__isnull=False)
        .values_list(
            "reporter_id", "reporter__reporter_standing__upheld_count", "reporter__reporter_standing__rejected_count"
        )
        .distinct()
    }
    account = case.account
    case.signal_count = stats["n"]
    case.reporter_count = len(reporters)
    case.max_detector_score = stats["top"]
    case.priority = compute_priority(
        severity=case.policy.severity if case.policy else Severity.LOW,
        reporter_reliabilities=list(reporters.values()),
        max_detector_score=case.max_detector_score,
        follower_count=account.follower_count,
        is_partner=account.is_partner,
        sla_due_at=case.sla_due_at,
        now=now,
    )
    fields = ["signal_count", "reporter_count", "max_detector_score", "priority", "automated_origin", "updated_at"]
    case.save(update_fields=fields)
    return fields


def recompute_priority(*, case: Case, actor=None, now: datetime | None = None) -> Case:
    """Recompute one case's priority now (e.g. as its SLA nears), with an audit row
    when it moved."""
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("account", "policy").get(pk=case.pk)
        before = case.priority
        _refresh_case_stats(case, now=now)
        if case.priority != before:
            record_event(
                actor=actor,
                verb="case.priority_recomputed",
                target=case,
                before={"priority": before},
                after={"priority": case.priority},
                case_ref=case.pk,
            )
    return case


# --- staff evidence ---------------------------------------------------------------


def add_staff_note(*, actor, case: Case, text: str) -> Evidence:
    """A note on the timeline; never edited afterwards, only followed by more notes."""
    if not permissions.can_add_evidence(actor, case):
        raise PermissionDenied("You may not add evidence to cases.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write the note first."})
    if len(text) > settings.MODERATION["REASON_MAX_CHARS"] * 5:
        raise ValidationError({"text": "Notes are limited to 10,000 characters; attach a file instead."})
    with transaction.atomic():
        evidence = Evidence(case=case, kind=EvidenceKind.NOTE, title="Staff note", body=text, added_by=actor)
        evidence.full_clean()
        evidence.save()
        record_event(actor=actor, verb="evidence.added", target=evidence, after={"kind": "note"}, case_ref=case.pk)
    return evidence


def check_evidence_file(upload) -> tuple[str, str]:
    """(extension, content type) of an acceptable upload, else a ValidationError."""
    try:
        kind = check_upload(upload, kinds=EVIDENCE_FILE_KINDS)
    except ValidationError as exc:
        allowed = ", ".join(ext for k in EVIDENCE_FILE_KINDS for ext in k.extensions)
        reason = " ".join(exc.messages)
        raise ValidationError({"file": f"File not accepted: {reason} Allowed: {allowed}, up to 5 MB."}) from None
    return os.path.splitext(upload.name)[1].lower(), kind.content_type


def add_evidence_file(*, actor, case: Case, upload, note: str = "") -> Evidence:
    """A file (screenshot, PDF, text export) on the timeline, type and size checked."""
    if not permissions.can_add_evidence(actor, case):
        raise PermissionDenied("You may not add evidence to cases.")
    ext, content_type = check_evidence_file(upload)
    upload.seek(0)
    content = upload.read()
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        evidence = Evidence(
            case=case,
            kind=EvidenceKind.FILE,
            title=f"File: {os.path.basename(upload.name)}"[:300],
            body=(note or "").strip(),
            content_hash=digest,
            data={"name": os.path.basename(upload.name), "content_type": content_type, "size": len(content)},
            added_by=actor,
        )
        evidence.file.save(f"case{case.pk}-{digest[:16]}{ext}", ContentFile(content), save=False)
        evidence.full_clean()
        evidence.save()
        record_event(
            actor=actor,
            verb="evidence.added",
            target=evidence,
            after={"kind": "file", "sha256": digest, "size": len(content)},
            case_ref=case.pk,
        )
    return evidence


# --- reporters --------------------------------------------------------------------


def mute_reporter(*, actor, reporter: Account, reason: str, now: datetime | None = None) -> ReporterStanding:
    """Stop a bad-faith reader: new reports no longer open or join cases, pending ones
    (not yet on a case, or on an open case) are set aside and open cases re-ranked."""
    if not permissions.can_mute_reporter(actor):
        raise PermissionDenied("Only supervisors may mute reporters.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the reporter is muted."})
    now = now or timezone.now()
    with transaction.atomic():
        standing, _ = ReporterStanding.objects.get_or_create(reporter=reporter)
        standing = ReporterStanding.objects.select_for_update().get(pk=standing.pk)
        if standing.muted_at is not None:
            return standing
        pending = Signal.objects.filter(reporter=reporter, set_aside=False).filter(
            Q(case__isnull=True) | Q(case__status__in=OPEN_CASE_STATUSES)
        )
        case_ids = sorted(set(pending.exclude(case=None).values_list("case_id", flat=True)))
        set_aside = Signal.objects.filter(pk__in=list(pending.values_list("pk", flat=True))).update(set_aside=True)
        standing.muted_at, standing.muted_by, standing.mute_reason = now, actor, reason
        standing.save(update_fields=["muted_at", "muted_by", "mute_reason"])
        changed = []
        for case in (
            Case.objects.select_for_update(of=("self",)).select_related("account", "policy").filter(pk__in=case_ids)
        ):
            before = case.priority
            _refresh_case_stats(case, now=now)
            changed.append((case, before))
        record_event(
            actor=actor,
            verb="reporter.muted",
            target=standing,
            before={"muted": False},
            after={"muted": True, "signals_set_aside": set_aside, "cases": case_ids},
            reason=reason,
        )
        for case, before in changed:
            record_event(
                actor=actor,
                verb="case.priority_recomputed",
                target=case,
                before={"priority": before, "reporter_count": None},
                after={"priority": case.priority, "reporter_count": case.reporter_count},
                reason=f"reporter @{reporter.handle} muted",
                case_ref=case.pk,
            )
    return standing


def settle_reporters(*, case: Case, upheld: bool, actor=None) -> list[int]:
    """Once a case is decided, give each distinct reader whose counted report is on it one
    upheld (violation found) or rejected mark; reliability, and so the weight of their
    next reports, follows. Call inside the decision's transaction."""
    reporter_ids = sorted(
        set(
            Signal.objects.filter(
                case=case, set_aside=False, source__in=READER_SOURCES, reporter__isnull=False
            ).values_list("reporter_id", flat=True)
        )
    )
    if not reporter_ids:
        return []
    field = "upheld_count" if upheld else "rejected_count"
    with transaction.atomic():
        for reporter_id in reporter_ids:
            ReporterStanding.objects.get_or_create(reporter_id=reporter_id)
        ReporterStanding.objects.filter(reporter_id__in=reporter_ids).update(**{field: F(field) + 1})
        record_event(
            actor=actor,
            verb="reporter.standing_settled",
            target=case,
            after={"reporters": reporter_ids, "upheld": upheld},
            case_ref=case.pk,
        )
    return reporter_ids


def unmute_reporter(*, actor, reporter: Account, reason: str = "") -> ReporterStanding:
    """New reports count again; signals set aside while muted stay set aside."""
    if not permissions.can_mute_reporter(actor):
        raise PermissionDenied("Only supervisors may unmute reporters.")
    with transaction.atomic():
        standing = ReporterStanding.objects.select_for_update().get(reporter=reporter)
        if standing.muted_at is None:
            return standing
        standing.muted_at, standing.muted_by, standing.mute_reason = None, None, ""
        standing.save(update_fields=["muted_at", "muted_by", "mute_reason"])
        record_event(
            actor=actor, verb="reporter.unmuted", target=standing, before={"muted": True}, after={"muted": False}
        )
    return standing


# --- configuration ------------------------------------------------------------------


def save_routing_rule(*, actor, rule: RoutingRule, changed: Iterable[str] = ()) -> RoutingRule:
    """Routing rules are data; every edit is audited."""
    if not permissions.can_edit_routing(actor):
        raise PermissionDenied("You may not edit routing rules.")
    with transaction.atomic():
        created = rule.pk is None
        rule.full_clean()
        rule.save()
        record_event(
            actor=actor,
            verb="routing_rule.saved",
            target=rule,
            after={
                "created": created,
                "changed": sorted(changed),
                "queue": rule.queue.slug,
                "position": rule.position,
                "policy_family": rule.policy_family,
                "policy_code": rule.policy_code,
                "source": rule.source,
                "is_active": rule.is_active,
            },
        )
    return rule


def save_queue(*, actor, queue: Queue, changed: Iterable[str] = ()) -> Queue:
    if not actor.has_perm("cases.change_queue"):
        raise PermissionDenied("You may not edit queues.")
    with transaction.atomic():
        queue.full_clean()
        queue.save()
        record_event(
            actor=actor,
            verb="queue.saved",
            target=queue,
            after={"changed": sorted(changed), "sla_hours": queue.sla_hours, "allowed_roles": queue.allowed_roles},
        )
    return queue


def create_api_client(*, actor=None, name: str, allowed_sources: list[str]) -> tuple[ApiClient, str]:
    """A platform or detector client acting as a service-role user; returns the
    client and its key, which is stored hashed and shown only this once."""
    unknown = set(allowed_sources) - set(SignalSource.values)
    if unknown or not allowed_sources:
        raise ValidationError({"allowed_sources": f"Choose from {', '.join(SignalSource.values)}."})
    User = get_user_model()
    with transaction.atomic():
        username = f"api-{slugify(name)}"[:150]
        if ApiClient.objects.filter(name=name).exists() or User.objects.filter(username=username).exists():
            raise ValidationError({"name": f"An API client named {name!r} already exists."})
        user = User(username=username, is_staff=False, is_active=True)
        user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get(name=Role.SERVICE))
        client = ApiClient(name=name, user=user, allowed_sources=sorted(set(allowed_sources)))
        client.full_clean()
        client.save()
        key_row, key = ApiClientKey.objects.create_key(name=f"{name} key", client=client)
        record_event(actor=actor, verb="api_client.created", target=client, after={"sources": client.allowed_sources})
        record_event(actor=actor, verb="api_client.key_issued", target=client, after={"prefix": key_row.prefix})
    return client, key

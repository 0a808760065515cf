"""Signals in, cases out: storing signals idempotently, joining or opening cases,
snapshots, priority, staff evidence and reporter muting.

Each signal is stored in its own transaction. Row writes come first and audit rows
last, so two transactions racing for the same case or idempotency key never wait on
each other while one holds the audit chain's lock.
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
from django.db import IntegrityError, transaction
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
from cases.selectors import pending_show_less_reporters
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

EVIDENCE_FILE_MAX_BYTES = 5 * 1024 * 1024
EVIDENCE_FILE_TYPES = {
    # extension: (content type, check of the first bytes)
    ".png": ("image/png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ".jpg": ("image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ".jpeg": ("image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ".pdf": ("application/pdf", lambda head: head.startswith(b"%PDF-")),
    ".txt": ("text/plain", lambda head: b"\x00" not in head),
}


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


def ingest_signals(*, client: ApiClient, items: Iterable[SignalIn], now: datetime | None = None) -> list[IngestResult]:
    """Store each signal (once per idempotency key) and join or open its case.

    Items are stored one by one, each committed before the next starts; the caller
    acknowledges only after all returned, so an acknowledged signal is never lost and
    a retried batch stores nothing twice.
    """
    return [ingest_signal(client=client, item=item, now=now) for item in items]


def ingest_signal(*, client: ApiClient, item: SignalIn, now: datetime | None = None) -> IngestResult:
    existing = _existing(client, item.idempotency_key)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _store(client=client, item=item, now=now or timezone.now())
    except IntegrityError:
        # Lost a race on signal_idempotent_per_client: the winner has committed.
        existing = _existing(client, item.idempotency_key)
        if existing is None:
            raise
        return existing


def _existing(client: ApiClient, key: str) -> IngestResult | None:
    row = Signal.objects.filter(client=client, idempotency_key=key).values_list("pk", "case_id").first()
    return IngestResult(IngestResult.DUPLICATE, row[0], row[1]) if row else None


def _store(*, client: ApiClient, item: SignalIn, now: datetime) -> IngestResult:
    account, account_changes = _upsert_account(item.account, item.account_data, now=now)
    story, story_changes = (None, [])
    if item.story:
        story, story_changes = _upsert_story(item.story, item.story_data, author=account)
    reporter = _reporter_account(item.reporter) if item.reporter else None
    muted = False
    if reporter is not None:
        standing, _ = ReporterStanding.objects.get_or_create(reporter=reporter)
        muted = standing.muted_at is not None
    policy = item.policy
    if policy is None and item.source == SignalSource.READER_REPORT:
        policy = Policy.objects.current().get(code=DEFAULT_REPORT_POLICY)

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
    signal.save()

    case, opened, attached = (None, False, [signal])
    if not muted:
        case, opened, attached = _case_for(signal, now=now)
    proposals: list[EnforcementAction] = []
    snapshot = None
    was_automated = case.automated_origin if case is not None and not opened else None
    if case is not None:
        for joined in attached:
            joined.case = case
            joined.save(update_fields=["case"])
            _signal_evidence(case, joined)
        if opened:
            snapshot = create_snapshot(case=case)
        if signal.source in HUMAN_SOURCES and case.automated_origin:
            case.automated_origin = False
        proposals = _propose(case, signal)
        _refresh_case_stats(case, now=now)

    # Audit rows last (see module docstring).
    actor = client.user
    if opened:
        record_event(
            actor=actor,
            verb="case.opened",
            target=case,
            after={
                "queue": case.queue.slug,
                "policy_family": case.policy_family,
                "policy": case.policy.code if case.policy else None,
                "automated_origin": case.automated_origin,
                "sla_due_at": case.sla_due_at,
                "snapshot_hash": snapshot.content_hash if snapshot else None,
            },
            case_ref=case.pk,
        )
    after = {
        "source": signal.source,
        "case": case.pk if case else None,
        "set_aside": signal.set_aside,
        "mirror_refreshed": account_changes + story_changes,
    }
    if case is not None:
        after.update(priority=case.priority, automated_origin=case.automated_origin)
    record_event(
        actor=actor,
        verb="signal.received",
        target=signal,
        before={"automated_origin": was_automated} if was_automated and not case.automated_origin else None,
        after=after,
        reason="reporter is muted" if muted else "",
        case_ref=case.pk if case else None,
    )
    for action in proposals:
        record_event(
            actor=actor,
            verb="case.action_proposed",
            target=action,
            after={"outcome": action.outcome, "signal": signal.pk, "status": action.status},
            case_ref=case.pk,
        )
    return IngestResult(IngestResult.STORED, signal.pk, case.pk if case else None)


def _open_case_on(account: Account, story: Story | None, *, family: str | None = None):
    qs = Case.objects.select_for_update(of=("self",)).filter(
        account=account, story=story, status__in=OPEN_CASE_STATUSES
    )
    if family is not None:
        qs = qs.filter(policy_family=family)
    return qs.select_related("queue", "policy", "account").order_by("opened_at", "id").first()


def _case_for(signal: Signal, *, now: datetime) -> tuple[Case | None, bool, list[Signal]]:
    """(case, opened, signals to attach) for a freshly stored, counted signal."""
    if signal.source == SignalSource.SHOW_LESS and signal.policy is None:
        # 'Show less' names no rule: it joins any open case on the subject, and alone
        # opens one only once enough distinct readers said it.
        case = _open_case_on(signal.account, signal.story)
        if case is not None:
            return case, False, [signal]
        threshold = settings.MODERATION["SHOW_LESS_THRESHOLD"]
        if pending_show_less_reporters(account_id=signal.account_id, story_id=signal.story_id) < threshold:
            return None, False, []
        pending = list(
            Signal.objects.filter(
                source=SignalSource.SHOW_LESS,
                account=signal.account,
                story=signal.story,
                case__isnull=True,
                set_aside=False,
            ).order_by("received_at", "id")
        )
        case, opened = _open_signal_case(signal, family=READER_FAMILY, now=now)
        return case, opened, pending if opened else [signal]
    family = signal.policy.family if signal.policy else READER_FAMILY
    case = _open_case_on(signal.account, signal.story, family=family)
    if case is not None:
        return case, False, [signal]
    case, opened = _open_signal_case(signal, family=family, now=now)
    return case, opened, [signal]


def _open_signal_case(signal: Signal, *, family: str, now: datetime) -> tuple[Case, bool]:
    return open_or_join_case(
        account=signal.account,
        story=signal.story,
        policy_family=family,
        policy=signal.policy,
        source=signal.source,
        now=now,
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
    if signal.source == SignalSource.DETECTOR:
        title = f"{signal.detector_name} {signal.detector_version}: {signal.policy.code}"
        if signal.score is not None:
            title += f" (score {signal.score:.2f})"
    elif signal.reporter_id:
        title = f"{signal.get_source_display()} from @{signal.reporter.handle}"
    else:
        title = signal.get_source_display()
    return Evidence.objects.create(
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


def _propose(case: Case, signal: Signal) -> list[EnforcementAction]:
    """A detector's proposed outcomes become proposals on the case; only a human
    decision (cases.services.review) turns them into approved actions."""
    if signal.source != SignalSource.DETECTOR or not signal.proposed_outcomes:
        return []
    already = set(
        case.actions.filter(status=ActionStatus.PROPOSED, outcome__in=signal.proposed_outcomes).values_list(
            "outcome", flat=True
        )
    )
    created = []
    for outcome in signal.proposed_outcomes:
        if outcome in already:
            continue
        action = EnforcementAction(
            case=case,
            proposed_by_signal=signal,
            outcome=outcome,
            account=case.account,
            story=case.story if outcome in STORY_OUTCOMES else None,
            status=ActionStatus.PROPOSED,
        )
        action.full_clean(exclude=["case", "account", "story", "proposed_by_signal"], validate_constraints=False)
        action.save()
        already.add(outcome)
        created.append(action)
    return created


# --- mirror -----------------------------------------------------------------------


def _apply(obj, data: dict | None, fields: Iterable[str]) -> list[str]:
    changed = []
    for name in fields:
        if data and name in data and getattr(obj, name) != data[name]:
            setattr(obj, name, data[name])
            changed.append(name)
    return changed


def _upsert_account(platform_id: str, data: dict | None, *, now: datetime) -> tuple[Account, list[str]]:
    """The back-office's copy of the account, created or refreshed from account_data."""
    if not data:
        return Account.objects.get(platform_id=platform_id), []
    account = Account.objects.filter(platform_id=platform_id).first()
    created = account is None
    if created:
        account = Account(platform_id=platform_id)
    changed = _apply(account, data, ACCOUNT_DATA_FIELDS)
    if account.partner_status == PartnerStatus.ACTIVE and account.partner_enrolled_at is None:
        account.partner_enrolled_at = now
    if created:
        account.full_clean()
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError:
            # Another signal created it a moment ago; refresh that row instead.
            account = Account.objects.get(platform_id=platform_id)
            changed = _apply(account, data, ACCOUNT_DATA_FIELDS)
            if changed:
                account.save(update_fields=[*changed, "partner_enrolled_at", "updated_at"])
        return account, ["created"]
    if changed:
        account.full_clean()
        account.save(update_fields=[*changed, "partner_enrolled_at", "updated_at"])
    return account, [f"account.{name}" for name in changed]


def _upsert_story(platform_id: str, data: dict | None, *, author: Account) -> tuple[Story, list[str]]:
    """The copy of the story; story_data refreshes it but never a case's snapshot."""
    if not data:
        return Story.objects.get(platform_id=platform_id), []
    story = Story.objects.filter(platform_id=platform_id).first()
    if story is None:
        story = Story(platform_id=platform_id, author=author)
        _apply(story, data, STORY_DATA_FIELDS)
        story.full_clean()
        try:
            with transaction.atomic():
                story.save()
        except IntegrityError:
            story = Story.objects.get(platform_id=platform_id)
        return story, ["story.created"]
    changed = _apply(story, data, STORY_DATA_FIELDS)
    if changed:
        story.full_clean()
        story.save(update_fields=[*changed, "updated_at"])
    return story, [f"story.{name}" for name in changed]


def _reporter_account(platform_id: str) -> Account:
    """Readers may not be in the mirror yet: keep a placeholder keyed by their id."""
    account, _ = Account.objects.get_or_create(platform_id=platform_id, defaults={"handle": f"reader-{platform_id}"})
    return account


# --- snapshot and priority ----------------------------------------------------------


def content_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_snapshot(*, case: Case) -> Evidence | None:
    """Freeze what the reviewer judges: the story (or, for account cases, the profile)
    as the mirror holds it now. Taken once per case, when its first signal arrives."""
    if case.evidence.filter(kind=EvidenceKind.SNAPSHOT).exists():
        return None
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
    return Evidence.objects.create(
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
    ext = os.path.splitext(upload.name or "")[1].lower()
    if ext not in EVIDENCE_FILE_TYPES:
        allowed = ", ".join(sorted(EVIDENCE_FILE_TYPES))
        raise ValidationError({"file": f"Files of this type are not accepted (allowed: {allowed})."})
    if upload.size > EVIDENCE_FILE_MAX_BYTES:
        raise ValidationError({"file": "Files are limited to 5 MB."})
    if upload.size == 0:
        raise ValidationError({"file": "The file is empty."})
    content_type, looks_right = EVIDENCE_FILE_TYPES[ext]
    upload.seek(0)
    head = upload.read(2048)
    upload.seek(0)
    if not looks_right(head):
        raise ValidationError({"file": f"The file's content is not {content_type}."})
    return ext, content_type


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

"""Readers' standing: muting bad-faith reporters and settling their marks once a
case is decided."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cases import permissions
from cases.models import OPEN_CASE_STATUSES, Case, ReporterStanding, Signal
from cases.services.intake.inputs import READER_SOURCES
from cases.services.intake.priority import refresh_case_stats
from moderation.audit import record_event
from moderation.models import Account


def muted_reporters(reporters: set[Account]) -> set[int]:
    """Ids of muted readers; each reader gets a standing row the first time they report."""
    if not reporters:
        return set()
    ids = {r.pk for r in reporters}
    standings = dict(ReporterStanding.objects.filter(reporter_id__in=ids).values_list("reporter_id", "muted_at"))
    missing = [ReporterStanding(reporter_id=pk) for pk in sorted(ids - set(standings))]
    if missing:
        ReporterStanding.objects.bulk_create(missing, ignore_conflicts=True)
    return {pk for pk, muted_at in standings.items() if muted_at is not None}


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
        case_ids, set_aside = _set_aside_pending(reporter)
        standing.muted_at, standing.muted_by, standing.mute_reason = now, actor, reason
        standing.save(update_fields=["muted_at", "muted_by", "mute_reason"])
        changed = _rerank(case_ids, now=now)
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


def _set_aside_pending(reporter: Account) -> tuple[list[int], int]:
    """Set aside the reader's signals not on a case or on an open one; (open cases, count)."""
    pending = Signal.objects.filter(reporter=reporter, set_aside=False).filter(
        Q(case__isnull=True) | Q(case__status__in=OPEN_CASE_STATUSES)
    )
    case_ids = sorted(set(pending.exclude(case=None).values_list("case_id", flat=True)))
    set_aside = Signal.objects.filter(pk__in=list(pending.values_list("pk", flat=True))).update(set_aside=True)
    return case_ids, set_aside


def _rerank(case_ids: list[int], *, now: datetime) -> list[tuple[Case, int]]:
    changed = []
    for case in (
        Case.objects.select_for_update(of=("self",)).select_related("account", "policy").filter(pk__in=case_ids)
    ):
        before = case.priority
        refresh_case_stats(case, now=now)
        changed.append((case, before))
    return changed


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

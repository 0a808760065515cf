"""A case's counts and priority (cases/priority.py holds the formula)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from cases.models import Case, ReporterStanding, Signal
from cases.priority import compute_priority
from cases.services.intake.inputs import READER_SOURCES
from moderation.audit import record_event
from moderation.models import Severity, SignalSource


def refresh_case_stats(case: Case, *, now: datetime) -> list[str]:
    """Recount signals and reporters and recompute the priority; saves what changed."""
    counted = Signal.objects.filter(case=case, set_aside=False)
    stats = counted.aggregate(n=Count("id"), top=Max("score", filter=Q(source=SignalSource.DETECTOR)))
    reporters = _reporter_reliabilities(counted)
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


def _reporter_reliabilities(counted) -> dict[int, float]:
    """Each distinct reader on the case, with the weight of their word."""
    rows = (
        counted.filter(source__in=READER_SOURCES, reporter__isnull=False)
        .values_list(
            "reporter_id", "reporter__reporter_standing__upheld_count", "reporter__reporter_standing__rejected_count"
        )
        .distinct()
    )
    return {
        reporter_id: ReporterStanding(upheld_count=upheld or 0, rejected_count=rejected or 0).reliability
        for reporter_id, upheld, rejected in rows
    }


def recompute_priority(*, case: Case, actor=None, now: datetime | None = None) -> Case:
    """Recompute one case's priority now (e.g. as its SLA nears), with an audit row
    when it moved."""
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("account", "policy").get(pk=case.pk)
        before = case.priority
        refresh_case_stats(case, now=now)
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

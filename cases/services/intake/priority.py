"""A case's counts and priority (cases/priority.py holds the formula)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from cases.models import Case, ReporterStanding, Signal
from cases.priority import compute_priority
from cases.services.intake.inputs import READER_SOURCES
from moderation import setwise
from moderation.audit import record_event
from moderation.mirror.bulk import update_rows
from moderation.models import Severity, SignalSource
from moderation.rows import prepared_cursor

STATS_FIELDS = ["signal_count", "reporter_count", "max_detector_score", "priority", "automated_origin", "updated_at"]


def refresh_case_stats(case: Case, *, now: datetime) -> list[str]:
    """Recount signals and reporters and recompute the priority; saves what changed."""
    refresh_cases_stats([case], now=now, write=False)
    case.save(update_fields=STATS_FIELDS)
    return STATS_FIELDS


def refresh_cases_stats(cases: list[Case], *, now: datetime, write: bool = True) -> None:
    """The same for many cases in three statements (two grouped counts and one
    set-based update), so a chunk of signals costs the same whatever it touches."""
    if not cases:
        return
    ids = [case.pk for case in cases]
    if setwise.available():
        stats, reporters = _counted_on_postgresql(ids)
    else:
        counted = Signal.objects.filter(case_id__in=ids, set_aside=False)
        stats = {
            row["case_id"]: row
            for row in counted.order_by()
            .values("case_id")
            .annotate(n=Count("id"), top=Max("score", filter=Q(source=SignalSource.DETECTOR)))
        }
        reporters = _reporter_reliabilities(counted)
    for case in cases:
        _apply_stats(case, stats.get(case.pk, {}), reporters.get(case.pk, {}), now=now)
    if write:  # in id order, the order every writer locks cases in
        ordered = sorted(cases, key=lambda case: case.pk)
        if setwise.available():
            setwise.update_rows(Case, ordered, STATS_FIELDS)
        else:
            update_rows(Case, ordered, STATS_FIELDS)


def _apply_stats(case: Case, stats: dict, reporters: dict[int, float], *, now: datetime) -> None:
    account = case.account
    case.signal_count = stats.get("n", 0)
    case.reporter_count = len(reporters)
    case.max_detector_score = stats.get("top")
    case.priority = compute_priority(
        severity=case.policy.severity if case.policy else Severity.LOW,
        reporter_reliabilities=list(reporters.values()),
        max_detector_score=case.max_detector_score,
        follower_count=account.follower_count,
        is_partner=account.is_partner,
        sla_due_at=case.sla_due_at,
        now=now,
    )
    case.updated_at = timezone.now()


# The counts, the top detector score and the readers of each case, in one statement with
# one array parameter (a chunk's detector signals need no second one). Readers repeat
# (DISTINCT inside the aggregate would sort every case's signals): a set drops them.
# Case by case (LATERAL), each through the signals' case_id index: planned as `case_id =
# ANY(ids)` the statement reads the whole table whenever the planner's row estimate is
# off (a table not analysed yet: 27 ms for a chunk's cases, under their row locks).
_COUNTED_SQL = (
    "SELECT c.id, s.n, s.top, s.readers FROM unnest(%s::bigint[]) AS c(id) CROSS JOIN LATERAL ("
    "SELECT count(*) AS n, max(score) FILTER (WHERE source = %s) AS top, "
    "array_agg(reporter_id) FILTER (WHERE source = ANY(%s) AND reporter_id IS NOT NULL) AS readers "
    "FROM cases_signal WHERE case_id = c.id AND NOT set_aside) AS s"
)


def _counted_on_postgresql(ids: list[int]) -> tuple[dict, dict[int, dict[int, float]]]:
    with prepared_cursor() as cursor:
        cursor.execute(_COUNTED_SQL, [ids, SignalSource.DETECTOR.value, sorted(s.value for s in READER_SOURCES)])
        rows = cursor.fetchall()
    stats = {case_id: {"n": n, "top": top} for case_id, n, top, _ in rows}
    readers = {case_id: reporter_ids for case_id, _, _, reporter_ids in rows if reporter_ids}
    if not readers:
        return stats, {}
    standings = {
        standing.reporter_id: standing
        for standing in ReporterStanding.objects.filter(
            reporter_id__in={pk for reporter_ids in readers.values() for pk in reporter_ids}
        ).only("reporter_id", "upheld_count", "rejected_count")
    }
    unknown = ReporterStanding()  # 0 upheld, 0 rejected: an unknown reader's weight
    return stats, {
        case_id: {pk: standings.get(pk, unknown).reliability for pk in set(reporter_ids)}
        for case_id, reporter_ids in readers.items()
    }


def _reporter_reliabilities(counted) -> dict[int, dict[int, float]]:
    """Each distinct reader on each case, with the weight of their word."""
    rows = (
        counted.filter(source__in=READER_SOURCES, reporter__isnull=False)
        .order_by()
        .values_list(
            "case_id",
            "reporter_id",
            "reporter__reporter_standing__upheld_count",
            "reporter__reporter_standing__rejected_count",
        )
        .distinct()
    )
    found: dict[int, dict[int, float]] = {}
    for case_id, reporter_id, upheld, rejected in rows:
        standing = ReporterStanding(upheld_count=upheld or 0, rejected_count=rejected or 0)
        found.setdefault(case_id, {})[reporter_id] = standing.reliability
    return found


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

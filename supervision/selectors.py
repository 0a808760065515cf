"""Every number on the supervision pages. Each measure is one grouped query (ORM
aggregates, percentiles in the database); Python only merges the small grouped rows.

Periods are half-open: [start, end). Times to decision are in seconds.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections, router
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce, Concat, TruncDate, TruncWeek
from django.urls import reverse
from django.utils import timezone

from appeals.models import Appeal, AppealStatus, FollowerVerdict, PurgedFollowerReview
from cases.models import (
    OPEN_CASE_STATUSES,
    ActionStatus,
    Case,
    CaseStatus,
    Decision,
    DetectorVerdict,
    EnforcementAction,
    Evidence,
    EvidenceKind,
    Queue,
    ReversalCause,
    Signal,
)
from moderation.models import AuditEvent, Outcome, SignalSource
from supervision.aggregates import PercentileCont, Seconds
from supervision.models import (
    ActionDailyCounts,
    CaseDailyCounts,
    DetectorActionDailyCounts,
    DetectorDailyCounts,
    QAKind,
    QASample,
    QAStatus,
    RolledUpDay,
    RollupKind,
    RollupStaleMark,
    SignalDailyCounts,
)

CLOSED_CASE_STATUSES = (CaseStatus.DECIDED, CaseStatus.DISMISSED)
DECIDED_APPEAL_STATUSES = (AppealStatus.UPHELD, AppealStatus.OVERTURNED, AppealStatus.PARTIALLY_OVERTURNED)
OVERTURNED_APPEAL_STATUSES = (AppealStatus.OVERTURNED, AppealStatus.PARTIALLY_OVERTURNED)
LOW_PRECISION = 0.7
TREND_WEEKS = 12


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @classmethod
    def last_days(cls, days: int, *, now: datetime | None = None) -> Period:
        end = now or timezone.now()
        return cls(end - timedelta(days=days), end)

    @property
    def last_day(self):
        """The last day the period covers (its `end` is the exclusive midnight after it)."""
        return timezone.localtime(self.end - timedelta(microseconds=1)).date()

    def q(self, path: str) -> Q:
        return Q(**{f"{path}__gte": self.start, f"{path}__lt": self.end})

    @cached_property
    def trend_start(self) -> datetime:
        """Monday 00:00, TREND_WEEKS−1 weeks before the week holding the period's last moment.
        Cached (as the weeks are): the dashboard reads it for every grouped row."""
        last = self.end - timedelta(microseconds=1)
        monday = (last - timedelta(days=last.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        return monday - timedelta(weeks=TREND_WEEKS - 1)

    @cached_property
    def _weeks(self) -> tuple[datetime, ...]:
        return tuple(self.trend_start + timedelta(weeks=i) for i in range(TREND_WEEKS))

    def weeks(self) -> list[datetime]:
        return list(self._weeks)


def ratio(part: int, whole: int) -> float | None:
    return None if not whole else part / whole


def _week_key(value: datetime) -> str:
    return value.date().isoformat()


def _weekly(rows, key_fields: tuple[str, ...], value_fields: tuple[str, ...], period: Period) -> dict:
    """{key: [per-week dicts for each of the TREND_WEEKS weeks]} from rows with a `week`."""
    weeks = [_week_key(w) for w in period.weeks()]
    series: dict = defaultdict(lambda: {w: dict.fromkeys(value_fields, 0) for w in weeks})
    for row in rows:
        key = tuple(row[f] for f in key_fields)
        week = _week_key(row["week"])
        if week in series[key]:
            series[key][week] = {f: row[f] for f in value_fields}
    return {key: [{"week": w, **values[w]} for w in weeks] for key, values in series.items()}


def _marks() -> dict:
    """Precision counts, both ways: every mark as made at decision time, and the final
    word (one mark per signal, the one no later decision superseded, after appeals,
    QA settlements and re-reviews)."""
    current = Q(superseded_by__isnull=True)
    return {
        "marks": Count("id"),
        "right": Count("id", filter=Q(was_correct=True)),
        "final_marks": Count("id", filter=current),
        "final_right": Count("id", filter=current & Q(final_was_correct=True)),
    }


MARK_FIELDS = ("marks", "right", "final_marks", "final_right")


def _precisions(m: dict) -> dict:
    final = ratio(m["final_right"], m["final_marks"])
    return {
        "precision": ratio(m["right"], m["marks"]),
        "final_precision": final,
        "low_precision": final is not None and final < LOW_PRECISION,
    }


# --- the daily rollup's split: whole days it holds, spans counted live --------------------


def rollup_in_use() -> bool:
    """The rollup is kept fresh by PostgreSQL triggers (migration supervision 0007); on
    SQLite every measure is counted live."""
    return connection.vendor == "postgresql"


def day_start(day: date) -> datetime:
    """Midnight starting `day` in the default time zone, the one the rollup counts days in."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def day_end(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


def merged_spans(spans) -> list[tuple[datetime, datetime]]:
    """[start, end) spans in order, touching ones merged."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and merged[-1][1] >= start:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def in_spans(path: str, spans) -> Q:
    """`path` falls in one of the spans (matches nothing when there are none)."""
    q = Q(pk__in=[])
    for start, end in spans:
        q |= Q(**{f"{path}__gte": start, f"{path}__lt": end})
    return q


@dataclass(frozen=True)
class Split:
    """How the measures over a window are counted: the rolled-up part of each day whose
    table no later write marked stale comes from the rollup; the rest (today since the
    last run, days not rolled up yet, stale days, part-days at the window's edges) from
    the live tables. The two cover the window exactly once, so rollup + live is the live
    count."""

    start: datetime
    end: datetime
    rolled: tuple[tuple[date, datetime], ...] = ()
    stale: frozenset = frozenset()
    rolled_at: datetime | None = None

    @property
    def rolled_through(self) -> datetime | None:
        return max((through for _, through in self.rolled), default=None)

    def part(self, start: datetime, end: datetime, *, kind: str, cuts: tuple[datetime, ...] = ()) -> tuple[list, list]:
        """(rolled days, live spans) of `kind` for [start, end): a day's rolled-up part
        counts when it lies inside, its `kind` is not marked stale and no cut (another
        window's edge the caller splits sums at) falls inside the day."""
        days, rolled = [], []
        for day, through in self.rolled:
            first, after = day_start(day), day_end(day)
            if (day, kind) in self.stale or first < start or through > end:
                continue
            if not any(first < cut < after for cut in cuts):
                days.append(day)
                rolled.append((first, through))
        live, cursor = [], start
        for first, through in merged_spans(rolled):
            if cursor < first:
                live.append((cursor, first))
            cursor = through
        if cursor < end:
            live.append((cursor, end))
        return days, live


def rollup_split(*, period: Period, rollup: bool = True) -> Split:
    """Two queries: the rolled-up days of the period and its trend window, and their stale
    marks. With `rollup=False` (or off PostgreSQL) everything is counted live."""
    start = min(period.start, period.trend_start)
    if not rollup or not rollup_in_use():
        return Split(start=start, end=period.end)
    first, last = local_day(start), local_day(period.end - timedelta(microseconds=1))
    rows = tuple(
        RolledUpDay.objects.filter(day__gte=first, day__lte=last)
        .order_by("day")
        .values_list("day", "through", "rolled_at")
    )
    stale = frozenset(
        RollupStaleMark.objects.filter(day__gte=first, day__lte=last).values_list("day", "kind").distinct()
    )
    return Split(
        start=start,
        end=period.end,
        rolled=tuple((day, through) for day, through, _ in rows),
        stale=stale,
        rolled_at=max((at for _, _, at in rows), default=None),
    )


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _case_days(split: Split, period: Period) -> tuple[list, list]:
    """(rolled days, live spans) of the cases table over the period and its trend window,
    no day straddling either's start."""
    window_start = min(period.start, period.trend_start)
    return split.part(window_start, period.end, kind=RollupKind.CASES, cuts=(period.start, period.trend_start))


def _case_openings(split: Split, period: Period, *, key, rollup_key) -> tuple[dict, dict]:
    """Cases opened, by key: ({key: count in the period}, {key: {week: count}} over the
    trend window). Rolled-up days from CaseDailyCounts, the rest counted live (on
    opened_at, not the id, so the rows come from case_opened_idx alone)."""
    days, live = _case_days(split, period)
    weeks = {w.date() for w in period.weeks()}
    # The rows are (day, key): what a day counts towards is worked out once per day.
    mondays: dict[date, date | None] = {}

    def week_of(day: date) -> date | None:
        if day not in mondays:
            mondays[day] = _monday(day) if _monday(day) in weeks else None
        return mondays[day]

    rolled_day = {}
    for day in days:
        first = day_start(day)
        rolled_day[day] = (period.start <= first < period.end, week_of(day) if first >= period.trend_start else None)
    in_period: dict = defaultdict(int)
    weekly: dict = defaultdict(lambda: defaultdict(int))
    for day, k, n in (
        CaseDailyCounts.objects.filter(day__in=days)
        .values("day", key=rollup_key)
        .annotate(n=Sum("cases"))
        .order_by()
        .values_list("day", "key", "n")
    ):
        counted, monday = rolled_day[day]
        if counted:
            in_period[k] += n
        if monday is not None:
            weekly[k][monday] += n
    for day, k, n, n_in_period in (
        Case.objects.filter(in_spans("opened_at", live))
        .values(day=TruncDate("opened_at", tzinfo=timezone.get_default_timezone()), key=key)
        .annotate(
            n=Count("opened_at", filter=Q(opened_at__gte=period.trend_start)),
            in_period=Count("opened_at", filter=period.q("opened_at")),
        )
        .order_by()
        .values_list("day", "key", "n", "in_period")
    ):
        in_period[k] += n_in_period
        if n and week_of(day) is not None:
            weekly[k][week_of(day)] += n
    return in_period, weekly


def _weekly_series(weekly: dict, field: str, period: Period) -> dict:
    return {
        key: [{"week": _week_key(w), field: counts.get(w.date(), 0)} for w in period.weeks()]
        for key, counts in weekly.items()
    }


# --- per queue ------------------------------------------------------------------


def queue_measures(*, period: Period, now: datetime | None = None, split: Split | None = None) -> list[dict]:
    """Inflow (opened in period), backlog (open now), median/p90 time to decision and
    SLA breaches (closed in period after the due time; open now past it)."""
    now = now or timezone.now()
    split = split or rollup_split(period=period)
    queues = list(Queue.objects.order_by("position", "name"))
    # Counted on indexed columns (never null there), not the id: both queries read their
    # partial index alone (cases/models.py).
    open_now = {
        row["queue"]: row
        for row in Case.objects.filter(status__in=OPEN_CASE_STATUSES)
        .values("queue")
        .annotate(backlog=Count("sla_due_at"), overdue_open=Count("sla_due_at", filter=Q(sla_due_at__lt=now)))
        .order_by()
    }
    # Closed cases come from case_closed_queue_idx alone, already in queue order (the
    # queue list bounds the scan to the period within each queue), so the percentiles need
    # no sort of every row by queue first, only each queue's own sort of its times.
    elapsed = Seconds("decided_at", "opened_at")
    closed = {
        row["queue"]: row
        for row in Case.objects.filter(
            period.q("decided_at"), status__in=CLOSED_CASE_STATUSES, queue__in=[q.pk for q in queues]
        )
        .values("queue")
        .annotate(
            decided=Count("decided_at"),
            median_seconds=PercentileCont(elapsed, 0.5),
            p90_seconds=PercentileCont(elapsed, 0.9),
            late_decisions=Count("decided_at", filter=Q(decided_at__gt=F("sla_due_at"))),
        )
        .order_by()
    }
    inflow, weekly = _case_openings(split, period, key=F("queue_id"), rollup_key=F("queue_id"))
    series = _weekly_series(weekly, "inflow", period)
    empty = [{"week": w, "inflow": 0} for w in _weeks(period)]
    result = []
    for q in queues:
        opened, shut = open_now.get(q.pk, {}), closed.get(q.pk, {})
        late, overdue = shut.get("late_decisions", 0), opened.get("overdue_open", 0)
        result.append(
            {
                "queue": q,
                "inflow": inflow.get(q.pk, 0),
                "backlog": opened.get("backlog", 0),
                "decided": shut.get("decided", 0),
                "median_seconds": shut.get("median_seconds"),
                "p90_seconds": shut.get("p90_seconds"),
                "late_decisions": late,
                "overdue_open": overdue,
                "sla_breaches": late + overdue,
                "weekly": series.get(q.pk, empty),
            }
        )
    return result


def _weeks(period: Period) -> list[str]:
    return [_week_key(w) for w in period.weeks()]


# --- per reviewer -----------------------------------------------------------------


def reviewer_measures(*, period: Period) -> list[dict]:
    """For decisions made in the period: count, median handling time, how many were
    appealed and overturned (appeal decided so far; a follower appeal counts against each
    purge decision behind it, overturned when a follower it purged was reinstated), and
    QA agreement on those sampled. Golden accuracy counts the reviewer's own blind
    answers on golden cases in the period."""
    decided = (
        Decision.objects.filter(period.q("decided_at"))
        .values("decided_by")
        .annotate(
            decisions=Count("id"),
            median_handling_seconds=PercentileCont("handling_seconds", 0.5),
        )
        .order_by()
    )
    appealed = _appealed_decisions(period)
    qa = (
        QASample.objects.filter(period.q("decision__decided_at"), kind=QAKind.SAMPLED)
        .exclude(status=QAStatus.PENDING)
        .values("original_reviewer")
        .annotate(qa_reviewed=Count("id"), qa_agreed=Count("id", filter=Q(agrees=True)))
        .order_by()
    )
    golden = (
        QASample.objects.filter(period.q("qa_decided_at"), kind=QAKind.GOLDEN)
        .exclude(status=QAStatus.PENDING)
        .values("qa_reviewer")
        .annotate(golden_answered=Count("id"), golden_right=Count("id", filter=Q(agrees=True)))
        .order_by()
    )
    merged: dict[int, dict] = defaultdict(
        lambda: {
            "decisions": 0,
            "median_handling_seconds": None,
            "appealed": 0,
            "overturned": 0,
            "qa_reviewed": 0,
            "qa_agreed": 0,
            "golden_answered": 0,
            "golden_right": 0,
        }
    )
    for row in decided:
        merged[row["decided_by"]].update(
            decisions=row["decisions"], median_handling_seconds=row["median_handling_seconds"]
        )
    for reviewer, (appealed_ids, overturned_ids) in appealed.items():
        merged[reviewer].update(appealed=len(appealed_ids), overturned=len(overturned_ids))
    for row in qa:
        merged[row["original_reviewer"]].update(qa_reviewed=row["qa_reviewed"], qa_agreed=row["qa_agreed"])
    for row in golden:
        merged[row["qa_reviewer"]].update(golden_answered=row["golden_answered"], golden_right=row["golden_right"])
    users = get_user_model().objects.in_bulk(list(merged))
    result = []
    for user_id, m in merged.items():
        result.append(
            {
                "reviewer": users.get(user_id),
                **m,
                "overturn_rate": ratio(m["overturned"], m["appealed"]),
                "qa_agreement": ratio(m["qa_agreed"], m["qa_reviewed"]),
                "golden_accuracy": ratio(m["golden_right"], m["golden_answered"]),
            }
        )
    result.sort(key=lambda r: (-r["decisions"], r["reviewer"].get_username() if r["reviewer"] else ""))
    return result


def _appealed_decisions(period: Period) -> dict[int, tuple[set[int], set[int]]]:
    """{reviewer id: (decisions appealed, decisions overturned)} for decisions made in the
    period whose appeals are decided: action appeals through the appealed action, follower
    appeals through each purge action behind them."""
    found: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    by_action = (
        Appeal.objects.filter(period.q("action__decision__decided_at"), status__in=DECIDED_APPEAL_STATUSES)
        .values_list("action__decision__decided_by", "action__decision", "status")
        .distinct()
    )
    by_follower = (
        PurgedFollowerReview.objects.filter(
            period.q("purge_action__decision__decided_at"), appeal__status__in=DECIDED_APPEAL_STATUSES
        )
        .annotate(
            reviewer=F("purge_action__decision__decided_by"),
            decision=F("purge_action__decision"),
            overturned=Q(verdict=FollowerVerdict.REINSTATE, appeal__status__in=OVERTURNED_APPEAL_STATUSES),
        )
        .values_list("reviewer", "decision", "overturned")
        .distinct()
    )
    for reviewer, decision, status in by_action:
        found[reviewer][0].add(decision)
        if status in OVERTURNED_APPEAL_STATUSES:
            found[reviewer][1].add(decision)
    for reviewer, decision, overturned in by_follower:
        found[reviewer][0].add(decision)
        if overturned:
            found[reviewer][1].add(decision)
    return found


# --- per policy and per detector --------------------------------------------------------


def _policy_key():
    return Coalesce("policy__code", Concat("policy_family", Value(".*")))


def policy_measures(*, period: Period, split: Split | None = None) -> list[dict]:
    """Per policy code: detector precision on signals suggesting it (reviewer marks on
    decisions in the period, as made and after the final word), actions applied in the
    period and how many were later overturned on appeal, cases opened in the period, and
    weekly cases opened."""
    precision = (
        DetectorVerdict.objects.filter(period.q("decision__decided_at"))
        .values(code=F("signal__policy__code"))
        .annotate(**_marks())
        .order_by()
    )
    actions = (
        EnforcementAction.objects.filter(period.q("applied_at"))
        .values(code=F("decision__policy__code"))
        .annotate(applied=Count("id"), overturned=Count("id", filter=Q(reversal_cause=ReversalCause.APPEAL)))
        .order_by()
    )
    split = split or rollup_split(period=period)
    opened, weekly = _case_openings(split, period, key=_policy_key(), rollup_key=_policy_key())
    series = _weekly_series(weekly, "cases", period)
    merged: dict[str, dict] = defaultdict(
        lambda: {**dict.fromkeys(MARK_FIELDS, 0), "applied": 0, "overturned": 0, "cases": 0}
    )
    for row in precision:
        merged[row["code"] or "—"].update({f: row[f] for f in MARK_FIELDS})
    for row in actions:
        merged[row["code"] or "—"].update(applied=row["applied"], overturned=row["overturned"])
    for code, cases in opened.items():
        if cases:
            merged[code].update(cases=cases)
    empty = [{"week": w, "cases": 0} for w in _weeks(period)]
    return [
        {
            "code": code,
            **m,
            **_precisions(m),
            "overturn_share": ratio(m["overturned"], m["applied"]),
            "weekly": series.get(code, empty),
        }
        for code, m in sorted(merged.items())
    ]


def detector_measures(*, period: Period, split: Split | None = None) -> list[dict]:
    """Per detector name and version: reviewer marks (precision) on decisions in the
    period, as made at decision time and after the final word (appeals, QA settlements,
    re-reviews; the low-precision flag reads this one), actions applied in the period on
    cases it contributed to and the share later overturned on appeal, cases it
    contributed to that opened in the period, and weekly precision over the trend window
    so a bad release stands out."""
    name, version = "detector_name", "detector_version"
    marks = (
        DetectorVerdict.objects.filter(period.q("decision__decided_at"))
        .values(name, version)
        .annotate(**_marks())
        .order_by()
    )
    split = split or rollup_split(period=period)
    # Each action was applied on one day, so its per-version counts of whole days add up.
    days, live = split.part(period.start, period.end, kind=RollupKind.ACTIONS)
    actions = list(
        DetectorActionDailyCounts.objects.filter(day__in=days)
        .values(name, version)
        .annotate(applied=Sum("applied"), overturned=Sum("overturned"))
        .order_by()
    ) + list(detector_actions_applied(EnforcementAction.objects.filter(in_spans("applied_at", live))))
    # Each case opened on one day, so the distinct counts of whole days add up exactly.
    days, live = split.part(period.start, period.end, kind=RollupKind.DETECTORS)
    opened = list(
        DetectorDailyCounts.objects.filter(day__in=days).values(name, version).annotate(cases=Sum("cases")).order_by()
    ) + _detector_cases_opened(live)
    weekly = _weekly(
        DetectorVerdict.objects.filter(
            decision__decided_at__gte=period.trend_start, decision__decided_at__lt=period.end
        )
        .annotate(week=TruncWeek("decision__decided_at"))
        .values(name, version, "week")
        .annotate(**_marks())
        .order_by(),
        (name, version),
        MARK_FIELDS,
        period,
    )
    merged: dict[tuple, dict] = defaultdict(
        lambda: {**dict.fromkeys(MARK_FIELDS, 0), "applied": 0, "overturned": 0, "cases": 0}
    )
    for row in marks:
        merged[(row[name], row[version])].update({f: row[f] for f in MARK_FIELDS})
    for row in actions:
        merged[(row[name], row[version])]["applied"] += row["applied"]
        merged[(row[name], row[version])]["overturned"] += row["overturned"]
    for row in opened:
        merged[(row[name], row[version])]["cases"] += row["cases"]
    empty = [{"week": w, **dict.fromkeys(MARK_FIELDS, 0)} for w in _weeks(period)]
    result = []
    for (det_name, det_version), m in sorted(merged.items()):
        trend = [
            {
                **w,
                "precision": ratio(w["right"], w["marks"]),
                "final_precision": ratio(w["final_right"], w["final_marks"]),
            }
            for w in weekly.get((det_name, det_version), empty)
        ]
        result.append(
            {
                "name": det_name,
                "version": det_version,
                **m,
                **_precisions(m),
                "overturn_share": ratio(m["overturned"], m["applied"]),
                "weekly": trend,
            }
        )
    return result


def _detector_cases_opened(spans) -> list[dict]:
    """Per detector name and version, the cases opened in the spans that one of its signals
    is on. On PostgreSQL each case's distinct versions come from signal_case_idx alone (one
    short index range per case) and are counted in a hash, never sorting every signal: the
    live tail after a burst (13,000 cases, 52,000 signals) in 30 ms, not 44 ms as
    COUNT(DISTINCT case) over the join. Elsewhere (SQLite) that COUNT(DISTINCT)."""
    alias = router.db_for_read(Signal) or DEFAULT_DB_ALIAS
    db = connections[alias]
    if db.vendor != "postgresql":
        return list(
            Signal.objects.using(alias)
            .filter(in_spans("case__opened_at", spans), source=SignalSource.DETECTOR)
            .values("detector_name", "detector_version")
            .annotate(cases=Count("case", distinct=True))
            .order_by()
        )
    cases = Case.objects.using(alias).filter(in_spans("opened_at", spans)).values("pk").order_by()
    try:
        cases_sql, params = cases.query.get_compiler(using=alias).as_sql()
    except EmptyResultSet:
        return []
    quote = db.ops.quote_name
    signal, column = quote(Signal._meta.db_table), quote(Signal._meta.get_field("case").column)
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT v.detector_name, v.detector_version, COUNT(*) FROM ({cases_sql}) AS c (case_id) "  # noqa: S608 (meta, ORM SQL)
            f"CROSS JOIN LATERAL (SELECT DISTINCT s.detector_name, s.detector_version FROM {signal} AS s "
            f"WHERE s.{column} = c.case_id AND s.source = %s) AS v GROUP BY 1, 2",
            (*params, SignalSource.DETECTOR.value),
        )
        return [{"detector_name": n, "detector_version": v, "cases": count} for n, v, count in cursor.fetchall()]


# --- automated vs manual ----------------------------------------------------------------


def automated_action() -> Q:
    """An action detectors alone were behind: on a case they opened alone, or proposed by
    a detector's signal (a person still decided it)."""
    return Q(case__automated_origin=True) | Q(proposed_by_signal__source=SignalSource.DETECTOR)


def detector_actions_applied(actions: QuerySet, **by) -> QuerySet:
    """Per detector name and version (and `by`), the `actions` on cases one of its
    signals is on, and how many of them an appeal overturned; for the dashboard's live
    part and the daily rollup alike."""
    return (
        actions.filter(case__signals__source=SignalSource.DETECTOR)
        .values(
            detector_name=F("case__signals__detector_name"), detector_version=F("case__signals__detector_version"), **by
        )
        .annotate(
            applied=Count("id", distinct=True),
            overturned=Count("id", distinct=True, filter=Q(reversal_cause=ReversalCause.APPEAL)),
        )
        .order_by()
    )


def automation_shares(*, period: Period, split: Split | None = None) -> dict:
    """Detections: signals received in the period from detectors vs people, and cases
    opened by detectors alone. Actions: applied in the period on a case opened by
    detectors alone or proposed by a detector signal, vs the rest. (A person decided
    every one of them.)"""
    split = split or rollup_split(period=period)
    days, live = split.part(period.start, period.end, kind=RollupKind.SIGNALS)
    signals = _added(
        SignalDailyCounts.objects.filter(day__in=days).aggregate(
            total=Sum("signals"), automated=Sum("signals", filter=Q(source=SignalSource.DETECTOR))
        ),
        Signal.objects.filter(in_spans("received_at", live)).aggregate(
            total=Count("received_at"), automated=Count("received_at", filter=Q(source=SignalSource.DETECTOR))
        ),
    )
    days, live = split.part(period.start, period.end, kind=RollupKind.CASES)
    cases = _added(
        CaseDailyCounts.objects.filter(day__in=days).aggregate(
            total=Sum("cases"), automated=Sum("cases", filter=Q(automated_origin=True))
        ),
        Case.objects.filter(in_spans("opened_at", live)).aggregate(
            total=Count("opened_at"), automated=Count("opened_at", filter=Q(automated_origin=True))
        ),
    )
    days, live = split.part(period.start, period.end, kind=RollupKind.ACTIONS)
    actions = _added(
        ActionDailyCounts.objects.filter(day__in=days).aggregate(
            total=Sum("actions"), automated=Sum("actions", filter=Q(automated=True))
        ),
        EnforcementAction.objects.filter(in_spans("applied_at", live)).aggregate(
            total=Count("id"), automated=Count("id", filter=automated_action())
        ),
    )
    return {
        name: {
            **counts,
            "manual": counts["total"] - counts["automated"],
            "share": ratio(counts["automated"], counts["total"]),
        }
        for name, counts in (("signals", signals), ("cases", cases), ("actions", actions))
    }


def _added(*counts: dict) -> dict:
    """Sums of aggregate dicts (a Sum over no rows is None)."""
    return {key: sum(c[key] or 0 for c in counts) for key in counts[0]}


# --- transparency report -----------------------------------------------------------------


def _took_effect(prefix: str = "") -> Q:
    """A decision took effect when it needed no second approval or got it, and was not
    rejected by the second person."""
    return (Q(**{f"{prefix}needs_approval": False}) | Q(**{f"{prefix}approved_by__isnull": False})) & Q(
        **{f"{prefix}rejected_by__isnull": True}
    )


def transparency_report(*, period: Period) -> dict:
    """The public numbers for a period, as plain data (for the page, CSV and JSON).
    Decisions count only once they took effect: one still awaiting a second approval, or
    refused by it, changed nothing for anyone."""
    by_source = dict(
        Signal.objects.filter(period.q("received_at"))
        .values("source")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("source", "n")
    )
    notices = [{"source": s.value, "label": s.label, "count": by_source.get(s.value, 0)} for s in SignalSource]

    outcome_rows = (
        EnforcementAction.objects.filter(period.q("decision__decided_at"), _took_effect("decision__"))
        .exclude(status__in=[ActionStatus.PROPOSED, ActionStatus.REJECTED, ActionStatus.AWAITING_APPROVAL])
        .values("outcome", policy_code=F("decision__policy__code"))
        .annotate(decisions=Count("decision", distinct=True))
        .order_by("policy_code", "outcome")
    )
    no_violation = (
        Decision.objects.filter(period.q("decided_at"), _took_effect(), is_violation=False)
        .values(policy_code=Coalesce("case__policy__code", Concat("case__policy_family", Value(".*"))))
        .annotate(decisions=Count("id"))
        .order_by("policy_code")
    )
    outcome_labels = dict(Outcome.choices)
    decisions_by_policy = sorted(
        [
            {
                "policy": r["policy_code"],
                "outcome": r["outcome"],
                "outcome_label": outcome_labels.get(r["outcome"], r["outcome"]),
                "decisions": r["decisions"],
            }
            for r in outcome_rows
        ]
        + [
            {
                "policy": r["policy_code"],
                "outcome": "no_violation",
                "outcome_label": "No violation",
                "decisions": r["decisions"],
            }
            for r in no_violation
        ],
        key=lambda r: (r["policy"] or "", r["outcome"]),
    )

    detector_signal = Signal.objects.filter(case=OuterRef("case"), source=SignalSource.DETECTOR)
    decisions = Decision.objects.filter(period.q("decided_at"), _took_effect()).aggregate(
        total=Count("id"),
        automated=Count("id", filter=Q(Exists(detector_signal))),
    )
    case_times = Case.objects.filter(period.q("decided_at"), status__in=CLOSED_CASE_STATUSES).aggregate(
        closed=Count("id"), median_seconds=PercentileCont(Seconds("decided_at", "opened_at"), 0.5)
    )
    appeal_counts = Appeal.objects.aggregate(
        received=Count("id", filter=period.q("submitted_at")),
        upheld=Count("id", filter=period.q("decided_at") & Q(status=AppealStatus.UPHELD)),
        overturned=Count("id", filter=period.q("decided_at") & Q(status=AppealStatus.OVERTURNED)),
        partially_overturned=Count("id", filter=period.q("decided_at") & Q(status=AppealStatus.PARTIALLY_OVERTURNED)),
        median_seconds=PercentileCont(
            Seconds("decided_at", "submitted_at"),
            0.5,
            filter=period.q("decided_at") & Q(status__in=DECIDED_APPEAL_STATUSES),
        ),
    )
    restored = EnforcementAction.objects.filter(
        period.q("reversed_at"), outcome=Outcome.FOLLOWERS_PURGE, status=ActionStatus.REVERSED
    ).aggregate(
        purges_reversed=Count("id"),
        edges=Sum(Cast(KeyTextTransform("restored_edges", KeyTransform("reversal", "effect")), IntegerField())),
    )
    return {
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "notices_received": notices,
        "notices_total": sum(n["count"] for n in notices),
        "decisions_by_policy_and_outcome": decisions_by_policy,
        "decisions": {
            "total": decisions["total"],
            "involving_automated_means": decisions["automated"],
            "automated_share": ratio(decisions["automated"], decisions["total"]),
        },
        "time_to_decision": {"cases_closed": case_times["closed"], "median_seconds": case_times["median_seconds"]},
        "appeals": {
            "received": appeal_counts["received"],
            "upheld": appeal_counts["upheld"],
            "overturned": appeal_counts["overturned"],
            "partially_overturned": appeal_counts["partially_overturned"],
            "median_seconds": appeal_counts["median_seconds"],
        },
        "followers_restored": restored["edges"] or 0,
        "follower_purges_reversed": restored["purges_reversed"],
    }


def transparency_rows(report: dict) -> list[tuple[str, str, str, object]]:
    """The report flattened to (section, key, detail, value) rows for CSV."""
    rows: list[tuple[str, str, str, object]] = [
        ("period", "start", "", report["period"]["start"]),
        ("period", "end", "", report["period"]["end"]),
    ]
    rows += [("notices_received", n["source"], n["label"], n["count"]) for n in report["notices_received"]]
    rows.append(("notices_received", "total", "", report["notices_total"]))
    rows += [
        ("decisions_by_policy_and_outcome", r["policy"] or "", r["outcome"], r["decisions"])
        for r in report["decisions_by_policy_and_outcome"]
    ]
    rows += [("decisions", k, "", _plain(v)) for k, v in report["decisions"].items()]
    rows += [("time_to_decision", k, "", _plain(v)) for k, v in report["time_to_decision"].items()]
    rows += [("appeals", k, "", _plain(v)) for k, v in report["appeals"].items()]
    rows.append(("followers_restored", "follows", "", report["followers_restored"]))
    rows.append(("followers_restored", "purges_reversed", "", report["follower_purges_reversed"]))
    return rows


def _plain(value):
    return "" if value is None else round(value, 4) if isinstance(value, float) else value


# --- decision explorer ------------------------------------------------------------------


def decisions_for_explorer() -> QuerySet[Decision]:
    """Every decision with what the explorer shows, in one query."""
    latest_appeal = Appeal.objects.filter(action__decision=OuterRef("pk")).order_by("-submitted_at", "-id")
    return (
        Decision.objects.select_related(
            "case__account", "case__queue", "case__story", "policy", "decided_by", "approved_by"
        )
        .annotate(
            appeal_status=Subquery(latest_appeal.values("status")[:1]),
            appeal_id=Subquery(latest_appeal.values("id")[:1]),
            detector_involved=Exists(Signal.objects.filter(case=OuterRef("case"), source=SignalSource.DETECTOR)),
        )
        .order_by("-decided_at", "-id")
    )


# --- audit log --------------------------------------------------------------------------


def audit_events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor").order_by("-id")


# --- detectors and recall -------------------------------------------------------------


def detector_versions() -> list[dict]:
    """Every detector name and version that ever sent a signal, with counts."""
    return list(
        Signal.objects.filter(source=SignalSource.DETECTOR)
        .values("detector_name", "detector_version")
        .annotate(signals=Count("id"), cases=Count("case", distinct=True))
        .order_by("detector_name", "detector_version")
    )


def detector_signals(*, name: str, version: str) -> QuerySet[Signal]:
    return Signal.objects.filter(source=SignalSource.DETECTOR, detector_name=name, detector_version=version)


def detector_cases(*, name: str, version: str) -> QuerySet[Case]:
    signals = detector_signals(name=name, version=version)
    return (
        Case.objects.filter(Exists(signals.filter(case=OuterRef("pk"))))
        .select_related("account", "story", "queue", "policy")
        .annotate(
            marks=Count(
                "decisions__detector_verdicts",
                filter=Q(
                    decisions__detector_verdicts__detector_name=name,
                    decisions__detector_verdicts__detector_version=version,
                ),
            ),
            wrong_marks=Count(
                "decisions__detector_verdicts",
                filter=Q(
                    decisions__detector_verdicts__detector_name=name,
                    decisions__detector_verdicts__detector_version=version,
                    decisions__detector_verdicts__was_correct=False,
                ),
            ),
            final_wrong=Count(
                "decisions__detector_verdicts",
                filter=Q(
                    decisions__detector_verdicts__detector_name=name,
                    decisions__detector_verdicts__detector_version=version,
                    decisions__detector_verdicts__superseded_by__isnull=True,
                    decisions__detector_verdicts__final_was_correct=False,
                ),
            ),
        )
        .order_by("-opened_at", "-id")
    )


def detector_actions(*, name: str, version: str) -> QuerySet[EnforcementAction]:
    """Actions on cases the detector contributed to, or proposed by one of its signals."""
    signals = detector_signals(name=name, version=version)
    return (
        EnforcementAction.objects.filter(
            Q(Exists(signals.filter(case=OuterRef("case"))))
            | Q(Exists(signals.filter(pk=OuterRef("proposed_by_signal"))))
        )
        .select_related("account", "story", "case")
        .order_by("id")
    )


@dataclass
class RecallListing:
    """What a recall of one detector version would touch; the dry run shows it, the real
    run acts on the ids frozen from it."""

    name: str
    version: str
    cases_by_status: list[dict] = field(default_factory=list)
    actions_by_outcome: list[dict] = field(default_factory=list)
    requeue_case_ids: list[int] = field(default_factory=list)
    reverse_action_ids: list[int] = field(default_factory=list)
    case_total: int = 0
    action_total: int = 0

    def fingerprint(self, mode: str) -> str:
        ids = self.requeue_case_ids if mode == "requeue" else self.reverse_action_ids
        payload = f"{self.name}|{self.version}|{mode}|{','.join(map(str, ids))}"
        return hashlib.sha256(payload.encode()).hexdigest()

    def targets(self, mode: str) -> list[int]:
        return self.requeue_case_ids if mode == "requeue" else self.reverse_action_ids


def recall_listing(*, name: str, version: str) -> RecallListing:
    """Counts by case status and by action outcome × status, plus the target ids: closed
    cases (re-queue mode) and applied actions (reverse mode)."""
    cases = detector_cases(name=name, version=version).order_by()
    actions = detector_actions(name=name, version=version).order_by()
    case_labels = dict(CaseStatus.choices)
    by_status = [
        {"status": r["status"], "label": case_labels.get(r["status"], r["status"]), "count": r["n"]}
        for r in Case.objects.filter(pk__in=cases.values("pk"))
        .values("status")
        .annotate(n=Count("id"))
        .order_by("status")
    ]
    outcome_labels = dict(Outcome.choices)
    by_outcome: dict[str, dict] = {}
    for r in (
        EnforcementAction.objects.filter(pk__in=actions.values("pk"))
        .values("outcome", "status")
        .annotate(n=Count("id"))
        .order_by("outcome", "status")
    ):
        row = by_outcome.setdefault(
            r["outcome"],
            {
                "outcome": r["outcome"],
                "label": outcome_labels.get(r["outcome"], r["outcome"]),
                "total": 0,
                "statuses": {},
            },
        )
        row["statuses"][r["status"]] = r["n"]
        row["total"] += r["n"]
    for row in by_outcome.values():
        row["applied"] = row["statuses"].get(ActionStatus.APPLIED, 0)
        row["reversed"] = row["statuses"].get(ActionStatus.REVERSED, 0)
        row["other"] = row["total"] - row["applied"] - row["reversed"]
    return RecallListing(
        name=name,
        version=version,
        cases_by_status=by_status,
        actions_by_outcome=list(by_outcome.values()),
        requeue_case_ids=list(
            Case.objects.filter(pk__in=cases.values("pk"), status__in=CLOSED_CASE_STATUSES)
            .order_by("id")
            .values_list("id", flat=True)
        ),
        reverse_action_ids=list(
            EnforcementAction.objects.filter(pk__in=actions.values("pk"), status=ActionStatus.APPLIED)
            .order_by("id")
            .values_list("id", flat=True)
        ),
        case_total=sum(r["count"] for r in by_status),
        action_total=sum(r["total"] for r in by_outcome.values()),
    )


# --- QA -----------------------------------------------------------------------------------


def qa_counts() -> dict:
    return QASample.objects.aggregate(
        pending=Count("id", filter=Q(status=QAStatus.PENDING)),
        disagreed=Count("id", filter=Q(status=QAStatus.DISAGREED)),
        agreed=Count("id", filter=Q(status=QAStatus.AGREED)),
        settled=Count("id", filter=Q(status=QAStatus.SETTLED)),
    )


def qa_queue_for(user) -> QuerySet[QASample]:
    """Samples this reviewer may decide blind: pending, never decided (nor approved) by them."""
    own = Decision.objects.filter(Q(decided_by=user) | Q(approved_by=user), case=OuterRef("case"))
    return (
        QASample.objects.filter(status=QAStatus.PENDING)
        .exclude(original_reviewer=user)
        .exclude(Exists(own))
        .order_by("created_at", "id")
    )


def qa_blinded(user) -> dict[tuple[str, int], str]:
    """What a reviewer holding blind QA samples must not open until they answer: each
    sample's case (its pages, records and API record) and the account and story as they
    are today. {(kind, id): the plain reason}, registered with moderation.blinding."""
    rows = QASample.objects.filter(status=QAStatus.PENDING, assignee=user).values_list(
        "pk", "case_id", "case__account_id", "case__story_id"
    )
    found: dict[tuple[str, int], str] = {}
    for pk, case_id, account_id, story_id in rows:
        reason = (
            f"This page shows case #{case_id}, or its account or story as they are today, and you are giving "
            f"that case's blind second review (QA sample #{pk}). Until you record your answer it is closed to "
            "you, so that your decision is your own. Go back to the sample at "
            f"{reverse('supervision:qa_review', args=[pk])}."
        )
        found[("case", case_id)] = reason
        found[("account", account_id)] = reason
        if story_id:
            found[("story", story_id)] = reason
    return found


def qa_decision_time(sample: QASample) -> datetime | None:
    """When the decision under second review was made: the sampled decision, or for a
    golden case its first decision (None when it has none)."""
    if sample.decision_id:
        return sample.decision.decided_at
    return sample.case.decisions.order_by("decided_at", "id").values_list("decided_at", flat=True).first()


def qa_blind_material(sample: QASample) -> dict:
    """What the second reviewer sees: the case as the first reviewer saw it when
    deciding. The frozen content snapshot (taken when the case opened, never refreshed),
    the signals and the other evidence that existed by then. Never the current account
    or story (its paywall, distribution or status would give the outcome away), the
    decision, its reviewer, outcomes, staff notes or the case status."""
    until = qa_decision_time(sample)
    on_case = Evidence.objects.filter(case_id=sample.case_id)
    snapshot = on_case.filter(kind=EvidenceKind.SNAPSHOT).order_by("created_at", "id").first()
    evidence = on_case.exclude(kind__in=[EvidenceKind.NOTE, EvidenceKind.SIGNAL, EvidenceKind.SNAPSHOT])
    signals = Signal.objects.filter(case_id=sample.case_id).select_related("policy")
    if until is not None:
        evidence = evidence.filter(created_at__lte=until)
        signals = signals.filter(received_at__lte=until)
    return {
        "snapshot": snapshot,
        "snapshot_is_story": bool(snapshot and "body" in snapshot.data),
        "signals": signals.order_by("observed_at", "id"),
        "evidence": list(evidence.order_by("created_at", "id")),
    }


def qa_disagreements() -> QuerySet[QASample]:
    return (
        QASample.objects.filter(status=QAStatus.DISAGREED)
        .select_related("case__account", "qa_reviewer", "original_reviewer", "decision__policy", "qa_policy")
        .order_by("qa_decided_at", "id")
    )

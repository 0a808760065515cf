"""The queue page: one queue's workable cases with what a moderator sorts and filters
by, and a short evidence summary for the preview, in a fixed number of queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models import Case as CaseWhen
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases.models import Case, CaseStatus, Evidence, Queue, Signal
from moderation import rows
from moderation.models import EngagementEvent, EngagementKind, PartnerStatus, SignalSource

WORKABLE = (CaseStatus.OPEN, CaseStatus.IN_REVIEW, CaseStatus.ESCALATED)
PREVIEW_READER_REASONS = 3


def queue_by_slug(slug: str) -> Queue | None:
    """The queue of a "Review next" press, read by a statement written once
    (moderation.rows): compiling `Queue.objects.get(slug=…)` cost more CPU per press than
    the one-statement claim that follows it. Prepared once per connection on PostgreSQL."""
    with rows.prepared_cursor() as cursor:
        cursor.execute(_queue_by_slug(), [slug])
        row = cursor.fetchone()
    return rows.instance(Queue, row) if row else None


@cache
def _queue_by_slug() -> str:
    quote = connection.ops.quote_name
    return f"SELECT {rows.columns(Queue, 'q')} FROM {quote(Queue._meta.db_table)} q WHERE q.{quote('slug')} = %s"  # noqa: S608


def queue_cases(*, queue: Queue, now=None) -> QuerySet[Case]:
    """Workable cases of the queue, review order first, annotated with `story_reads`
    (reads of the story), `money_rank` (2: a Partner's paywalled story, 1: a Partner's
    account or story, 0: no Partner earnings), `held_by_other` support (`lease_live`)
    and `sla_breached`. One query; the filters and sorts act on these names."""
    now = now or timezone.now()
    reads = (
        EngagementEvent.objects.filter(story=OuterRef("story_id"), kind=EngagementKind.READ)
        .order_by()
        .values("story")
        .annotate(n=Count("id"))
        .values("n")
    )
    partner = Q(account__partner_status=PartnerStatus.ACTIVE)
    return (
        Case.objects.filter(queue=queue, status__in=WORKABLE)
        .select_related("account", "story", "policy", "assignee")
        .annotate(
            story_reads=Coalesce(Subquery(reads, output_field=IntegerField()), 0),
            money_rank=CaseWhen(
                When(partner & Q(story__is_paywalled=True), then=Value(2)),
                When(partner, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            lease_live=CaseWhen(
                When(claim_expires_at__gt=now, then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
            sla_breached=CaseWhen(
                When(sla_due_at__lt=now, then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
            reach=F("account__follower_count"),
        )
        .order_by("-priority", "opened_at", "id")
    )


def with_previews(cases: list[Case]) -> list[Case]:
    """Attach `preview` (an EvidenceSummary) to each case of a page: two queries for
    the whole page (its signals and its evidence titles), whatever its length."""
    ids = [c.pk for c in cases]
    signals: dict[int, list[Signal]] = {}
    for s in (
        Signal.objects.filter(case_id__in=ids)
        .only("id", "case_id", "source", "detector_name", "detector_version", "score", "reason", "set_aside")
        .order_by("received_at", "id")
    ):
        signals.setdefault(s.case_id, []).append(s)
    evidence: dict[int, list[Evidence]] = {}
    for e in Evidence.objects.filter(case_id__in=ids).exclude(kind="signal").only("id", "case_id", "kind", "title"):
        evidence.setdefault(e.case_id, []).append(e)
    for case in cases:
        case.preview = summarise(case, signals.get(case.pk, []), evidence.get(case.pk, []))
    return cases


@dataclass
class EvidenceSummary:
    sources: list[tuple[str, int]] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    reader_reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    set_aside: int = 0


def summarise(case: Case, signals: list[Signal], evidence: list[Evidence]) -> EvidenceSummary:
    counted = [s for s in signals if not s.set_aside]
    labels = dict(SignalSource.choices)
    summary = EvidenceSummary(set_aside=len(signals) - len(counted))
    summary.sources = sorted(Counter(labels.get(s.source, s.source) for s in counted).items())
    best: dict[str, float | None] = {}
    for s in counted:
        if s.source == SignalSource.DETECTOR:
            name = f"{s.detector_name} {s.detector_version}"
            scores = [x for x in (best.get(name), s.score) if x is not None]
            best[name] = max(scores) if scores else None
    summary.detectors = [f"{n} ({score:.2f})" if score is not None else n for n, score in sorted(best.items())]
    summary.reader_reasons = [s.reason for s in counted if s.reason and s.source != SignalSource.DETECTOR][
        :PREVIEW_READER_REASONS
    ]
    summary.evidence = [e.title or e.get_kind_display() for e in evidence]
    return summary


def queue_detectors(queue: Queue) -> list[str]:
    """Detector names that sent signals on the queue's workable cases (filter choices)."""
    return list(
        Signal.objects.filter(case__queue=queue, case__status__in=WORKABLE, source=SignalSource.DETECTOR)
        .order_by("detector_name")
        .values_list("detector_name", flat=True)
        .distinct()
    )

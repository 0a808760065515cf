"""The final word on whether a detector was right.

A reviewer marks every detector signal right or wrong when deciding (`was_correct`,
never changed). Later words can contradict that mark: an appeal overturned, a QA
settlement that the first decision was wrong, a fresh decision on a re-opened case.
They land here, in the cases layer, so appeals and supervision call down into one
audited, idempotent service and `cases/` never imports them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

import cases.verdict_audit_verbs  # noqa: F401
from cases.models import Decision, DetectorVerdict, VerdictSource
from moderation.audit import record_event
from moderation.models import SignalSource


def current_verdicts() -> QuerySet[DetectorVerdict]:
    """One mark per signal: the one no later decision has superseded."""
    return DetectorVerdict.objects.filter(superseded_by__isnull=True)


def current_verdicts_on_cases(case_ids: Iterable[int]) -> QuerySet[DetectorVerdict]:
    return (
        current_verdicts()
        .filter(signal__case_id__in=list(case_ids), signal__source=SignalSource.DETECTOR)
        .select_related("decision")
    )


def _state(verdict: DetectorVerdict) -> dict:
    return {"final_was_correct": verdict.final_was_correct, "final_source": verdict.final_source}


@transaction.atomic
def revise_verdicts(
    *,
    verdicts: Iterable[DetectorVerdict],
    correct: bool,
    source: str,
    actor,
    reason: str,
    appeal_ref: int | None = None,
    now: datetime | None = None,
) -> list[DetectorVerdict]:
    """Give each verdict its final word. A verdict whose final word already says
    `correct` is left alone, so running this twice (a retried job, a second settlement)
    changes and audits nothing the second time. One audit row per verdict changed."""
    if source == VerdictSource.DECISION:
        raise ValueError("The mark made at decision time is not revised; it is the starting point.")
    now = now or timezone.now()
    ids = sorted({v.pk for v in verdicts})
    changed = []
    for verdict in DetectorVerdict.objects.select_for_update().select_related("decision").filter(pk__in=ids):
        if verdict.final_was_correct == correct:
            continue
        before = _state(verdict)
        verdict.final_was_correct = correct
        verdict.final_source = source
        verdict.final_revised_at = now
        verdict.save(update_fields=["final_was_correct", "final_source", "final_revised_at"])
        record_event(
            actor=actor,
            verb="detector_verdict.revised",
            target=verdict,
            before=before,
            after=_state(verdict),
            reason=reason,
            case_ref=verdict.decision.case_id,
            appeal_ref=appeal_ref,
        )
        changed.append(verdict)
    return changed


@transaction.atomic
def supersede_earlier_verdicts(*, decision: Decision, actor, now: datetime | None = None) -> list[DetectorVerdict]:
    """A later decision on a case marks its detector signals again. The earlier marks on
    those signals point to the new ones (so each signal counts once) and take the new
    mark as their final word. Running it again finds nothing left to supersede."""
    now = now or timezone.now()
    newer = {v.signal_id: v for v in decision.detector_verdicts.all()}
    if not newer:
        return []
    earlier = (
        DetectorVerdict.objects.select_for_update()
        .filter(signal_id__in=list(newer), superseded_by__isnull=True)
        .exclude(decision=decision)
        .order_by("id")
    )
    superseded = []
    for verdict in earlier:
        latest = newer[verdict.signal_id]
        before = {**_state(verdict), "superseded_by": None}
        verdict.superseded_by = latest
        fields = ["superseded_by"]
        if verdict.final_was_correct != latest.was_correct:
            verdict.final_was_correct = latest.was_correct
            verdict.final_source = VerdictSource.RE_REVIEW
            verdict.final_revised_at = now
            fields += ["final_was_correct", "final_source", "final_revised_at"]
        verdict.save(update_fields=fields)
        record_event(
            actor=actor,
            verb="detector_verdict.superseded",
            target=verdict,
            before=before,
            after={**_state(verdict), "superseded_by": latest.pk},
            reason=f"Decision #{decision.pk} on the re-opened case marked the signal again",
            case_ref=decision.case_id,
        )
        superseded.append(verdict)
    return superseded

"""Reads for detector recall plans: the dry run's pages (every case the version touched,
with its actions, reviewer verdicts, appeal outcomes and QA results), the filter that
spares what reviewers confirmed, and the targets a plan resolves to. Nothing here
changes state; supervision.services does."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet

from appeals.models import Appeal, FollowerVerdict, PurgedFollowerReview
from cases.models import ActionStatus, Case, Decision, DetectorVerdict, EnforcementAction
from supervision.models import DetectorRecall, QASample, QAStatus, RecallMode, RecallSelection, Settlement
from supervision.selectors import CLOSED_CASE_STATUSES, OVERTURNED_APPEAL_STATUSES, detector_actions, detector_cases

PAGE_SIZE = 50


def disputed_cases(*, name: str, version: str) -> QuerySet[Case]:
    """Cases where a person later said the detector (or the decision it led to) was
    wrong: a reviewer marked this version wrong, a decision found no violation, an appeal
    on one of its actions was overturned, a follower appeal judged the account genuine,
    or QA disagreed and was not settled for the first decision."""
    case = OuterRef("pk")
    return Case.objects.filter(
        Exists(
            DetectorVerdict.objects.filter(
                decision__case=case, was_correct=False, detector_name=name, detector_version=version
            )
        )
        | Exists(Decision.objects.filter(case=case, is_violation=False))
        | Exists(Appeal.objects.filter(action__case=case, status__in=OVERTURNED_APPEAL_STATUSES))
        | Exists(PurgedFollowerReview.objects.filter(purge_action__case=case, verdict=FollowerVerdict.REINSTATE))
        | Exists(
            QASample.objects.filter(case=case).filter(
                Q(status=QAStatus.DISAGREED)
                | Q(status=QAStatus.SETTLED, settlement__in=[Settlement.SECOND_RIGHT, Settlement.NEITHER])
            )
        ),
        pk__in=detector_cases(name=name, version=version).values("pk"),
    )


def eligible_ids(*, name: str, version: str, mode: str) -> list[int]:
    """What a recall may act on: applied actions (reverse) or closed cases (re-queue)."""
    if mode == RecallMode.REVERSE:
        return list(
            EnforcementAction.objects.filter(
                pk__in=detector_actions(name=name, version=version).order_by().values("pk"),
                status=ActionStatus.APPLIED,
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
    return list(
        Case.objects.filter(
            pk__in=detector_cases(name=name, version=version).order_by().values("pk"),
            status__in=CLOSED_CASE_STATUSES,
        )
        .order_by("id")
        .values_list("id", flat=True)
    )


def selection_ids(*, name: str, version: str, mode: str, selection: str) -> list[int]:
    """The picks a selection starts from: everything eligible, only the disputed cases'
    share of it, or nothing."""
    if selection == RecallSelection.NONE:
        return []
    ids = eligible_ids(name=name, version=version, mode=mode)
    if selection == RecallSelection.ALL:
        return ids
    disputed = disputed_cases(name=name, version=version).values("pk")
    if mode == RecallMode.REVERSE:
        keep = set(EnforcementAction.objects.filter(pk__in=ids, case__in=disputed).values_list("pk", flat=True))
    else:
        keep = set(Case.objects.filter(pk__in=ids).filter(pk__in=disputed).values_list("pk", flat=True))
    return [i for i in ids if i in keep]


@dataclass
class PlanTargets:
    """What confirming a draft would act on now: its picks that are still eligible,
    reverse-mode actions ordered by account so no account's notice spans two batches."""

    ids: list[int]
    accounts: int

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(",".join(map(str, self.ids)).encode()).hexdigest()


def plan_targets(recall: DetectorRecall) -> PlanTargets:
    picked = set(recall.picked_ids)
    ids = [
        i
        for i in eligible_ids(name=recall.detector_name, version=recall.detector_version, mode=recall.mode)
        if i in picked
    ]
    if recall.mode == RecallMode.REVERSE:
        rows = list(
            EnforcementAction.objects.filter(pk__in=ids).order_by("account_id", "id").values_list("id", "account_id")
        )
        return PlanTargets([i for i, _ in rows], len({a for _, a in rows}))
    accounts = Case.objects.filter(pk__in=ids).values("account").distinct().count()
    return PlanTargets(ids, accounts)


@dataclass
class RecallCaseRow:
    case: Case
    actions: list[EnforcementAction] = field(default_factory=list)
    verdicts: list[DetectorVerdict] = field(default_factory=list)
    appeals: list[Appeal] = field(default_factory=list)
    follower_reviews: list[PurgedFollowerReview] = field(default_factory=list)
    qa: list[QASample] = field(default_factory=list)
    disputed: bool = False


def recall_page(*, name: str, version: str, page: int | str | None, per_page: int | None = None) -> tuple[Page, list]:
    """One page of every case the version touched (no cut-off: every page is reachable),
    with what people later said about each. A fixed number of queries per page."""
    cases = detector_cases(name=name, version=version).order_by("id")
    paginator = Paginator(cases, per_page or PAGE_SIZE)
    current = paginator.get_page(page)
    ids = [c.pk for c in current.object_list]
    rows = {c.pk: RecallCaseRow(case=c) for c in current.object_list}
    version_actions = detector_actions(name=name, version=version).order_by().values("pk")
    for action in (
        EnforcementAction.objects.filter(case_id__in=ids, pk__in=version_actions)
        .select_related("account", "story")
        .order_by("id")
    ):
        rows[action.case_id].actions.append(action)
    for verdict in (
        DetectorVerdict.objects.filter(decision__case_id__in=ids, detector_name=name, detector_version=version)
        .select_related("decision__decided_by")
        .order_by("decision__decided_at", "id")
    ):
        rows[verdict.decision.case_id].verdicts.append(verdict)
    for appeal in Appeal.objects.filter(action__case_id__in=ids).select_related("action").order_by("id"):
        rows[appeal.action.case_id].appeals.append(appeal)
    for review in (
        PurgedFollowerReview.objects.filter(purge_action__case_id__in=ids)
        .exclude(verdict="")
        .select_related("purge_action", "appeal")
        .order_by("id")
    ):
        rows[review.purge_action.case_id].follower_reviews.append(review)
    for sample in QASample.objects.filter(case_id__in=ids).order_by("id"):
        rows[sample.case_id].qa.append(sample)
    disputed = set(disputed_cases(name=name, version=version).filter(pk__in=ids).values_list("pk", flat=True))
    for pk in disputed:
        rows[pk].disputed = True
    return current, [rows[pk] for pk in ids]

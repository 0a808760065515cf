"""Case reads: the list (queues, admin, API), one case with everything a reviewer
needs on one page, and an account's history."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BooleanField, Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models import Case as CaseWhen
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases.models import OPEN_CASE_STATUSES, Case, EnforcementAction, Evidence, Signal
from moderation.models import SignalSource
from moderation.roles import is_service_user

READER_SOURCES = (SignalSource.READER_REPORT, SignalSource.SHOW_LESS)


def case_list(*, now=None) -> QuerySet[Case]:
    """Cases with everything a list row shows, joined in one query, plus `sla_breached`."""
    now = now or timezone.now()
    return Case.objects.select_related("account", "story", "queue", "policy", "assignee").annotate(
        sla_breached=CaseWhen(
            When(Q(status__in=OPEN_CASE_STATUSES, sla_due_at__lt=now), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def cases_visible_to(user, *, now=None) -> QuerySet[Case]:
    """Staff who may view cases see all; an API client sees only the cases its own
    signals joined; anyone else sees none."""
    qs = case_list(now=now)
    if user is None or not user.is_authenticated:
        return qs.none()
    client = getattr(user, "api_client", None) if is_service_user(user) else None
    if client is not None:
        return qs.filter(Exists(Signal.objects.filter(case=OuterRef("pk"), client=client)))
    if user.has_perm("cases.view_case"):
        return qs
    return qs.none()


def with_client_stats(qs: QuerySet[Case], client) -> QuerySet[Case]:
    """The counts a client may see: its own signals, its readers, its top detector score
    (`own_signal_count`, `own_reporter_count`, `own_max_detector_score`), never the
    case-wide figures, which tell it what other clients sent."""
    own = Signal.objects.filter(case=OuterRef("pk"), client=client, set_aside=False).order_by()
    return qs.annotate(
        own_signal_count=Coalesce(Subquery(own.values("case").annotate(n=Count("id")).values("n")), 0),
        own_reporter_count=Coalesce(
            Subquery(
                own.filter(source__in=READER_SOURCES, reporter__isnull=False)
                .values("case")
                .annotate(n=Count("reporter", distinct=True))
                .values("n")
            ),
            0,
        ),
        own_max_detector_score=Subquery(
            own.filter(source=SignalSource.DETECTOR).values("case").annotate(top=Max("score")).values("top")
        ),
    )


def _signals_queryset():
    return Signal.objects.select_related("reporter__reporter_standing", "policy", "client", "story").order_by(
        "received_at", "id"
    )


def case_detail(case_id: int) -> Case:
    """One case with its subject, evidence timeline, signals, proposals and the
    account's earlier cases and actions, in a fixed number of queries.

    Attributes added: `timeline` (evidence, oldest first), `signal_list`,
    `proposals` (proposed actions), `history_cases`, `history_actions`.
    """
    return (
        case_list()
        .select_related("account__reporter_standing")
        .prefetch_related(
            Prefetch(
                "evidence",
                queryset=Evidence.objects.select_related(
                    "signal__reporter", "signal__policy", "signal__client", "added_by"
                ).order_by("created_at", "id"),
                to_attr="timeline",
            ),
            Prefetch("signals", queryset=_signals_queryset(), to_attr="signal_list"),
            Prefetch(
                "actions",
                queryset=EnforcementAction.objects.filter(status="proposed")
                .select_related("proposed_by_signal", "story")
                .order_by("created_at", "id"),
                to_attr="proposals",
            ),
            Prefetch(
                "account__cases",
                queryset=Case.objects.exclude(pk=case_id)
                .select_related("policy", "story", "queue")
                .order_by("-opened_at"),
                to_attr="history_cases",
            ),
            Prefetch(
                "account__enforcement_actions",
                queryset=EnforcementAction.objects.exclude(case_id=case_id)
                .exclude(status="proposed")
                .select_related("story", "decision__decided_by")
                .order_by("-created_at"),
                to_attr="history_actions",
            ),
        )
        .get(pk=case_id)
    )


@dataclass(frozen=True)
class AccountHistory:
    cases: list[Case]
    actions: list[EnforcementAction]


def account_history(account_id: int, *, exclude_case_id: int | None = None) -> AccountHistory:
    """Earlier cases on an account and the actions taken on it (proposals left out)."""
    cases = Case.objects.filter(account_id=account_id).select_related("policy", "story", "queue")
    actions = (
        EnforcementAction.objects.filter(account_id=account_id)
        .exclude(status="proposed")
        .select_related("story", "decision__decided_by")
    )
    if exclude_case_id is not None:
        cases = cases.exclude(pk=exclude_case_id)
        actions = actions.exclude(case_id=exclude_case_id)
    return AccountHistory(cases=list(cases.order_by("-opened_at")), actions=list(actions.order_by("-created_at")))

"""Reads about strikes: an account's live and expired strikes, the catalogue's escalation
proposal for a case, and the counts supervisors and writers see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from cases.strikes import Strike, StrikeProposal
from moderation.models import OUTCOME_RANK, Outcome, Policy


def live_strikes(*, account_id: int, now: datetime | None = None) -> QuerySet[Strike]:
    """Strikes that still count: not voided, not expired (index `strike_live`)."""
    now = now or timezone.now()
    return Strike.objects.filter(account_id=account_id, voided_at__isnull=True, expires_at__gt=now)


def family_strikes_in_window(
    *, account_id: int, family: str, window_days: int, now: datetime, exclude_case_id: int | None = None
) -> QuerySet[Strike]:
    """Live strikes of one family issued within the window: what escalation counts, under
    whichever policy version each was issued (index `strike_live_family`). A re-decided
    case's own earlier strike does not count against its new decision. No upper bound on
    `issued_at`: a decision that waited for the account's lock counts the strike the
    decision before it issued a moment "later" than its own clock read."""
    qs = live_strikes(account_id=account_id, now=now).filter(
        family=family, issued_at__gt=now - timedelta(days=window_days)
    )
    if exclude_case_id is not None:
        qs = qs.exclude(case_id=exclude_case_id)
    return qs.order_by("issued_at", "id")


def harshest_rank(outcomes) -> int:
    return max((OUTCOME_RANK[Outcome(o)] for o in outcomes), default=-1)


@dataclass
class Proposal:
    """The catalogue's next outcome for a violation of `policy` by an account."""

    policy: Policy
    counted: list[Strike] = field(default_factory=list)
    step: int | None = None
    outcomes: list[str] = field(default_factory=list)

    @property
    def live_count(self) -> int:
        return len(self.counted)

    @property
    def step_outcomes(self) -> list[str]:
        return list(self.policy.escalation_ladder[self.step]) if self.step is not None else []

    def is_milder(self, chosen) -> bool:
        """Milder than the escalation step reached. Going below the rule's defaults is the
        reviewer's call as before (POLICY.md); going below the escalation needs a reason."""
        return bool(self.step_outcomes) and harshest_rank(chosen) < harshest_rank(self.step_outcomes)

    def is_followed(self, chosen) -> bool:
        return set(chosen) == set(self.outcomes)


def propose(*, account_id: int, policy: Policy, now: datetime, exclude_case_id: int | None = None) -> Proposal:
    """The defaults of `policy` plus the ladder step its live strikes in the family reach
    (n live strikes → step n; past the top, the top step). The ladder, window and family
    are those of `policy`, the version in force when deciding."""
    counted = list(
        family_strikes_in_window(
            account_id=account_id,
            family=policy.family,
            window_days=policy.escalation_window_days,
            now=now,
            exclude_case_id=exclude_case_id,
        ).select_related("policy")
    )
    ladder = policy.escalation_ladder or []
    step = min(len(counted), len(ladder) - 1) if ladder else None
    outcomes = list(dict.fromkeys([*policy.default_outcomes, *(ladder[step] if step is not None else [])]))
    return Proposal(policy=policy, counted=counted, step=step, outcomes=outcomes)


def proposal_for_case(case, *, now: datetime | None = None) -> Proposal | None:
    """The proposal for the case's rule as the catalogue stands now (its current version)."""
    if case.policy_id is None:
        return None
    policy = Policy.objects.current().filter(code=case.policy.code).first() or case.policy
    return propose(account_id=case.account_id, policy=policy, now=now or timezone.now(), exclude_case_id=case.pk)


@dataclass
class StrikeRow:
    strike: Strike
    state: str  # live | expired | voided


def account_strikes(*, account_id: int, now: datetime | None = None) -> list[StrikeRow]:
    """Every strike of the account, newest first, with its state: for staff."""
    now = now or timezone.now()
    rows = []
    for strike in (
        Strike.objects.filter(account_id=account_id).select_related("policy", "case").order_by("-issued_at", "-id")
    ):
        state = "voided" if strike.voided_at else ("live" if strike.expires_at > now else "expired")
        rows.append(StrikeRow(strike=strike, state=state))
    return rows


@dataclass
class CaseStrikes:
    live: list[StrikeRow]
    expired: list[StrikeRow]
    voided: list[StrikeRow]
    proposal: Proposal | None
    decided: list[StrikeProposal]


def case_strikes_panel(case, *, now: datetime | None = None) -> CaseStrikes:
    """What the review page shows: the account's strikes by state and the proposal."""
    now = now or timezone.now()
    rows = account_strikes(account_id=case.account_id, now=now)
    return CaseStrikes(
        live=[r for r in rows if r.state == "live"],
        expired=[r for r in rows if r.state == "expired"],
        voided=[r for r in rows if r.state == "voided"],
        proposal=proposal_for_case(case, now=now),
        decided=list(
            StrikeProposal.objects.filter(decision__case_id=case.pk).select_related("decision").order_by("created_at")
        ),
    )


@dataclass
class WriterStanding:
    """What a writer may read about their own strikes: counts, rule titles and end dates
    (no reviewer, no internal note)."""

    count: int
    strikes: list[dict]


def writer_standing(*, account_id: int, now: datetime | None = None) -> WriterStanding:
    strikes = [
        {"title": s.policy.title, "issued_at": s.issued_at, "expires_at": s.expires_at}
        for s in live_strikes(account_id=account_id, now=now).select_related("policy").order_by("expires_at", "id")
    ]
    return WriterStanding(count=len(strikes), strikes=strikes)


def strike_counts(*, now: datetime | None = None) -> dict:
    """Supervisors' figures: live strikes by family, and accounts with any live strike."""
    now = now or timezone.now()
    live = Q(voided_at__isnull=True, expires_at__gt=now)
    by_family = dict(
        Strike.objects.filter(live)
        .values_list("family")
        .annotate(n=Count("id"))
        .order_by("family")
        .values_list("family", "n")
    )
    totals = Strike.objects.aggregate(
        live=Count("id", filter=live),
        expired=Count("id", filter=Q(voided_at__isnull=True, expires_at__lte=now)),
        voided=Count("id", filter=Q(voided_at__isnull=False)),
        accounts=Count("account", filter=live, distinct=True),
    )
    return {**totals, "by_family": by_family}


def writer_strikes_text(*, account_id: int, now: datetime | None = None) -> str:
    """The strikes paragraph of a writer's decision notice (templates/writer/email/_strikes.txt)."""
    from django.template.loader import render_to_string

    standing = writer_standing(account_id=account_id, now=now)
    return render_to_string("writer/email/_strikes.txt", {"strikes": standing}).strip()

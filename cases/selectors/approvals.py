"""What approving each decision will do, for the bulk approval review step."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from cases.models import ActionStatus, Decision
from cases.notices import WHAT_IT_CHANGES
from cases.selectors.queues import with_previews
from cases.selectors.review import decisions_awaiting_approval
from moderation.gate import four_eyes_follower_threshold
from moderation.models import Follow, Outcome


@dataclass
class ApprovalPreview:
    decision: Decision
    own: bool
    effects: list[str] = field(default_factory=list)


def approval_previews(decisions: list[Decision], *, approver) -> list[ApprovalPreview]:
    """One line per action each decision will put on the platform; purges say how many
    follows they remove from how many accounts. A fixed number of queries."""
    purge_accounts = {
        a.account_id
        for d in decisions
        for a in d.actions.all()
        if a.outcome == Outcome.FOLLOWERS_PURGE and a.status == ActionStatus.AWAITING_APPROVAL
    }
    follows = {
        row["follower"]: row
        for row in Follow.objects.filter(follower__in=purge_accounts, is_active=True)
        .values("follower")
        .annotate(n=Count("id"), followees=Count("followee", distinct=True))
    }
    previews = []
    for decision in decisions:
        preview = ApprovalPreview(decision=decision, own=decision.decided_by_id == approver.pk)
        for action in decision.actions.all():
            if action.status != ActionStatus.AWAITING_APPROVAL:
                continue
            target = f"“{action.story.title}”" if action.story_id else f"@{action.account.handle}"
            line = f"{action.get_outcome_display()} on {target}"
            if action.outcome == Outcome.FOLLOWERS_PURGE:
                row = follows.get(action.account_id, {"n": 0, "followees": 0})
                line += f": removes {row['n']:,} follows from {row['followees']:,} accounts"
            else:
                line += f": {WHAT_IT_CHANGES.get(action.outcome, '')}"
            preview.effects.append(line)
        previews.append(preview)
    return previews


@dataclass
class ApprovalCard:
    """One decision on the approvals page: what it does in words, why it waits, the
    evidence summary and the moderator's rationale."""

    decision: Decision
    own: bool
    outcomes: list[str]
    reasons: list[str]
    preview: object = None


def approval_cards(*, approver) -> list[ApprovalCard]:
    """Every decision awaiting a second approval, in a fixed number of queries: the
    repeat-offender facts and the follower threshold are read once for the page."""
    from cases.services.review import four_eyes_reasons

    decisions = list(decisions_awaiting_approval())
    threshold = four_eyes_follower_threshold()
    earlier = set()
    if decisions:
        earlier = set(
            Decision.objects.filter(
                case__account_id__in={d.case.account_id for d in decisions},
                is_violation=True,
                rejected_by__isnull=True,
                policy__isnull=False,
            ).values_list("case__account_id", "policy__code", "case_id")
        )
    with_previews([d.case for d in decisions])
    labels = dict(Outcome.choices)
    cards = []
    for d in decisions:
        repeat = d.policy is not None and any(
            acc == d.case.account_id and code == d.policy.code and case_id != d.case_id
            for acc, code, case_id in earlier
        )
        cards.append(
            ApprovalCard(
                decision=d,
                own=d.decided_by_id == approver.pk,
                outcomes=[labels.get(o, o) for o in d.outcomes],
                reasons=four_eyes_reasons(d.case, d.policy, d.outcomes, repeat=repeat, threshold=threshold),
                preview=d.case.preview,
            )
        )
    return cards

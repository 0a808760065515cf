"""What approving each decision will do, for the bulk approval review step."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from cases.models import ActionStatus, Decision
from cases.notices import WHAT_IT_CHANGES
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

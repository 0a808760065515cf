"""What a decided appeal does to strikes. Called by `appeals.services.decide_appeal` in
its transaction; the change itself is `cases.services.strikes` (audited, idempotent).

- An action appeal fully overturned: the decision appealed no longer stands, so its
  strike is voided.
- Partly overturned: the violation stands (some measures stay), so the strike stays.
- Reversals of other accounts' actions (a follower appeal judging a purged follower
  genuine): a decision none of whose measures still stands loses its strike.
- Upheld: nothing changes.
"""

from __future__ import annotations

from appeals.models import Appeal, AppealStatus
from cases.services.strikes import void_decision_strike, void_strikes_of_reversed_decisions


def void_strikes_after_appeal(*, appeal: Appeal, actor, reversed_actions) -> None:
    reason = f"Appeal #{appeal.pk} {appeal.get_status_display().lower()}"
    if appeal.status == AppealStatus.OVERTURNED and appeal.action_id and appeal.action.decision_id:
        void_decision_strike(decision_id=appeal.action.decision_id, actor=actor, reason=reason, appeal_ref=appeal.pk)
    if reversed_actions:
        void_strikes_of_reversed_decisions(actions=reversed_actions, actor=actor, reason=reason, appeal_ref=appeal.pk)

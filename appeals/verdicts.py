"""What a decided appeal says about the detectors behind the decision appealed.

Called by `appeals.services.decide_appeal` in its transaction; the change itself is
`cases.services.verdicts.revise_verdicts` (audited, idempotent).

- An action appeal fully overturned: every detector signal on the case was wrong.
- Partly overturned: the violation stands but some measures did not. The signals that
  proposed an outcome reversed on this appeal were wrong; the others keep their mark.
- A follower appeal: each purged follower the reviewer judged genuine means the
  detector signals on the case that purged that follower were wrong.
- Upheld: nothing changes (the reviewer's mark stands).
"""

from __future__ import annotations

from appeals.models import Appeal, AppealKind, AppealStatus, FollowerVerdict
from cases.models import DetectorVerdict, EnforcementAction, ReversalCause, VerdictSource
from cases.services.verdicts import current_verdicts_on_cases, revise_verdicts

OVERTURNED = (AppealStatus.OVERTURNED, AppealStatus.PARTIALLY_OVERTURNED)


def verdicts_overturned_by(appeal: Appeal) -> list[DetectorVerdict]:
    """The current detector marks this decided appeal shows to be wrong."""
    if appeal.status not in OVERTURNED:
        return []
    if appeal.kind == AppealKind.FOLLOWERS:
        cases = (
            appeal.follower_reviews.filter(verdict=FollowerVerdict.REINSTATE)
            .values_list("purge_action__case_id", flat=True)
            .distinct()
        )
        return list(current_verdicts_on_cases(cases))
    action = appeal.action
    verdicts = list(current_verdicts_on_cases([action.case_id]).select_related("signal"))
    if appeal.status == AppealStatus.OVERTURNED:
        return verdicts
    reversed_here = EnforcementAction.objects.filter(
        case_id=action.case_id, decision_id=action.decision_id, reversal_cause=ReversalCause.APPEAL
    )
    outcomes = set(reversed_here.values_list("outcome", flat=True))
    proposers = set(reversed_here.exclude(proposed_by_signal=None).values_list("proposed_by_signal", flat=True))
    return [v for v in verdicts if v.signal_id in proposers or outcomes & set(v.signal.proposed_outcomes or [])]


def revise_detector_verdicts_after_appeal(*, appeal: Appeal, actor) -> list[DetectorVerdict]:
    return revise_verdicts(
        verdicts=verdicts_overturned_by(appeal),
        correct=False,
        source=VerdictSource.APPEAL,
        actor=actor,
        reason=f"Appeal #{appeal.pk} {appeal.get_status_display().lower()}",
        appeal_ref=appeal.pk,
    )

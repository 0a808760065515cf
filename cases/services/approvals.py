"""Approving many decisions awaiting four eyes at once. Each goes through the single
approval service (`cases.services.review.approve_decision`): its own transaction, its
own audit rows, the same gate rules; one refusal never stops the others."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied

from cases.models import Decision
from cases.services import review
from cases.services.enforcement import HumanGateViolation


@dataclass
class BulkApproval:
    approved: list[Decision] = field(default_factory=list)
    refused: list[tuple[Decision, str]] = field(default_factory=list)


def approve_decisions(*, decisions: Iterable[Decision], approver) -> BulkApproval:
    result = BulkApproval()
    for decision in decisions:
        if decision.decided_by_id == approver.pk:
            result.refused.append(
                (
                    decision,
                    f"Case #{decision.case_id}: this is your own decision; another senior moderator must approve it.",
                )
            )
            continue
        try:
            result.approved.append(review.approve_decision(decision=decision, approver=approver))
        except (review.ReviewError, PermissionDenied, HumanGateViolation) as exc:
            result.refused.append((decision, f"Case #{decision.case_id}: {exc}"))
    return result

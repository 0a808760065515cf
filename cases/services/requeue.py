"""Sending a closed case back to its queue for a fresh human decision. Used by QA
settlement and detector recall (supervision) and by follower appeals that judge a
purged account genuine (appeals), so it lives below both."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from cases.models import Case, CaseStatus
from moderation.audit import register_verb
from moderation.transitions import transition

REQUEUE_TRANSITIONS = {CaseStatus.DECIDED: {CaseStatus.OPEN}, CaseStatus.DISMISSED: {CaseStatus.OPEN}}

register_verb(
    "case.requeued_for_review", "{actor} sent {target} back to its queue for a fresh human decision: {reason}"
)


class RequeueRefused(Exception):
    pass


def requeue_case(*, case: Case, actor, reason: str, now: datetime | None = None) -> Case:
    """Status open, nobody holding it, a new SLA clock. The actions already applied
    stay until the new decision (or an explicit reversal) changes them."""
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("queue").get(pk=case.pk)
        if case.status not in REQUEUE_TRANSITIONS:
            raise RequeueRefused(f"Case #{case.pk} is {case.get_status_display().lower()}, not closed.")
        clash = (
            Case.objects.filter(account_id=case.account_id, story_id=case.story_id, policy_family=case.policy_family)
            .exclude(pk=case.pk)
            .exclude(status__in=REQUEUE_TRANSITIONS)
        )
        if clash.exists():
            raise RequeueRefused(f"Case #{case.pk}: another open case on the same subject is already in review.")
        return transition(
            case,
            to=CaseStatus.OPEN,
            allowed=REQUEUE_TRANSITIONS,
            actor=actor,
            verb="case.requeued_for_review",
            reason=reason,
            extra_updates={
                "assignee": None,
                "claim_expires_at": None,
                "decided_at": None,
                "sla_due_at": now + case.queue.sla,
            },
            case_ref=case.pk,
        )

"""Legal holds: a supervisor stops retention (supervision.retention) from deleting
anything of a case, its evidence, notices and the appeals against its actions, and
lifts the hold when it is no longer needed. Both audited."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import permissions
from cases.models import Case, LegalHold
from moderation.audit import record_event, register_verb

register_verb("case.legal_hold_placed", "{actor} placed a legal hold on {target}: {reason}")
register_verb("case.legal_hold_lifted", "{actor} lifted the legal hold on {target}: {reason}")


class HoldRefused(ValidationError):
    """Field errors for the hold form: {field: [messages]}."""


def _reason(text: str, field: str) -> str:
    text = (text or "").strip()
    if not text:
        raise HoldRefused({field: ["Say why."]})
    if len(text) > 2000:
        raise HoldRefused({field: ["Keep it under 2,000 characters."]})
    return text


@transaction.atomic
def place_legal_hold(*, actor, case: Case, reason: str) -> LegalHold:
    if not permissions.can_place_legal_hold(actor):
        raise PermissionDenied("Only a supervisor may place a legal hold.")
    reason = _reason(reason, "reason")
    # The retention job takes the same lock before it purges a case (supervision.retention).
    Case.objects.select_for_update().filter(pk=case.pk).values_list("pk", flat=True).first()
    hold = LegalHold(case=case, reason=reason, placed_by=actor, placed_at=timezone.now())
    hold.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            hold.save()
    except IntegrityError:
        raise HoldRefused({"reason": ["This case is already on hold."]})
    record_event(
        actor=actor,
        verb="case.legal_hold_placed",
        target=hold,
        after={"case": case.pk, "hold": hold.pk},
        reason=reason,
        case_ref=case.pk,
    )
    return hold


@transaction.atomic
def lift_legal_hold(*, actor, case: Case, reason: str) -> LegalHold:
    if not permissions.can_place_legal_hold(actor):
        raise PermissionDenied("Only a supervisor may lift a legal hold.")
    reason = _reason(reason, "lift_reason")
    hold = LegalHold.objects.select_for_update().filter(case=case, lifted_at__isnull=True).first()
    if hold is None:
        raise HoldRefused({"lift_reason": ["This case is not on hold."]})
    hold.lifted_by, hold.lifted_at, hold.lift_reason = actor, timezone.now(), reason
    hold.save(update_fields=["lifted_by", "lifted_at", "lift_reason"])
    record_event(
        actor=actor,
        verb="case.legal_hold_lifted",
        target=hold,
        before={"lifted": False},
        after={"case": case.pk, "hold": hold.pk, "lifted": True},
        reason=reason,
        case_ref=case.pk,
    )
    return hold

"""Canned rationales: catalogue data a supervisor edits; every save is audited."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from cases.models import CannedRationale
from moderation.audit import record_event, register_verb
from moderation.models import Policy

register_verb("canned_rationale.saved", "{actor} saved the canned rationale {target}")


def _state(item: CannedRationale) -> dict:
    return {"policy_code": item.policy_code, "title": item.title, "text": item.text, "active": item.active}


def save_canned_rationale(*, actor, rationale: CannedRationale, changed: Iterable[str] = ()) -> CannedRationale:
    """Create or change one canned rationale; the audit row holds the text before and after."""
    perm = "cases.change_cannedrationale" if rationale.pk else "cases.add_cannedrationale"
    if actor is None or not actor.is_active or not actor.has_perm(perm):
        raise PermissionDenied("You may not edit canned rationales.")
    if not Policy.objects.filter(code=rationale.policy_code).exists():
        raise ValidationError({"policy_code": f"No policy has the code {rationale.policy_code!r}."})
    with transaction.atomic():
        before = None
        if rationale.pk:
            before = _state(CannedRationale.objects.select_for_update().get(pk=rationale.pk))
        rationale.full_clean()
        rationale.save()
        record_event(
            actor=actor,
            verb="canned_rationale.saved",
            target=rationale,
            before=before,
            after={**_state(rationale), "changed": sorted(changed)},
        )
    return rationale

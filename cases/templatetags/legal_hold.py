"""The case page's legal hold panel reads its hold here, so the page's view stays as it is."""

from __future__ import annotations

from django import template

from cases.models import LegalHold

register = template.Library()


@register.simple_tag
def legal_holds(case) -> dict:
    """The standing hold (or None) and the last lifted one, in one query."""
    holds = list(LegalHold.objects.filter(case=case).select_related("placed_by", "lifted_by")[:2])
    active = next((h for h in holds if h.lifted_at is None), None)
    lifted = next((h for h in holds if h.lifted_at is not None), None)
    return {"active": active, "lifted": lifted}

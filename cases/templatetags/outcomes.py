"""Outcomes in the words the catalogue gives them, for staff pages that list codes."""

from django import template

from moderation.models import Outcome

register = template.Library()


@register.filter
def outcome_words(codes) -> str:
    """ "account.suspend", or a list of codes, as "Suspend account, …"; an unknown code
    stays as it is rather than vanish."""
    if isinstance(codes, str):
        codes = [codes]
    labels = {choice.value: choice.label for choice in Outcome}
    return ", ".join(str(labels.get(code, code)) for code in codes or [])

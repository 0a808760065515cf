"""The placeholders a policy's statement template may use, and the check that keeps a
template to them. Templates are `str.format` strings filled with plain strings, so the
only risk is the format language itself (`{handle.__class__}`, `{x[0]}`, `{x:>999999}`):
only bare names from PLACEHOLDERS pass, anything else is a validation error."""

from __future__ import annotations

import string

from django.core.exceptions import ValidationError

PLACEHOLDERS = {
    "handle": "the writer's handle, without the @",
    "subject": "“your story “Title” (link)” or “your account @handle”",
    "story_title": "the story's title in quotes, or “your account”",
    "story_link": "the story's address on the platform (empty for an account)",
    "signals": "what brought the case to us, by kind, with the dates we received them",
    "first_received": "the date we received the first of them",
    "policy_title": "the rule's title",
    "policy_description": "the rule in plain words (the letter already quotes it once)",
}


def template_error(template: str) -> str | None:
    """Why a statement template cannot be filled in, or None."""
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError:
        return f"Unbalanced braces: write {{{{ and }}}} for literal braces; placeholders are {allowed}."
    for name, spec, conv in fields:
        if name not in PLACEHOLDERS or spec or conv:
            return f"Unknown placeholder {{{name}}}: use only {allowed}."
    return None


def validate_statement_template(value: str) -> None:
    error = template_error(value)
    if error:
        raise ValidationError(error)


def fill(template: str, values: dict[str, str]) -> str:
    """Fill a template checked by `template_error`; one that fails the check is returned as written."""
    if template_error(template):
        return template
    return template.format(**{name: values.get(name, "") for name in PLACEHOLDERS})

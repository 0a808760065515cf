"""System checks: fail at start-up, not at the first audit head, when the signing key is unusable."""

from django.core.checks import Error, register

from moderation.audit_heads import SigningKeyMissing, signing_key


@register()
def audit_signing_key(app_configs, **kwargs):
    try:
        signing_key()
    except SigningKeyMissing as exc:
        return [
            Error(
                str(exc),
                hint="Generate one with `python manage.py audit_signing_key` and keep it out of the database.",
                id="moderation.E001",
            )
        ]
    return []

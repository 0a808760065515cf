"""The login page's "Sign in with <organisation>" button, shown only when OIDC is configured."""

from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("admin/_oidc_sign_in.html")
def oidc_sign_in(next_url: str = ""):
    return {"enabled": settings.OIDC_ENABLED, "organisation": settings.OIDC_ORGANISATION, "next": next_url}

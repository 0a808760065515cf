"""`{% platform_fact_notices account since until %}`: on case and appeal pages, the
platform's changes of email or Partner Program status while they were open, and a
note when the account's facts are still unconfirmed."""

from django import template

from moderation.mirror.selectors import platform_fact_changes

register = template.Library()


@register.inclusion_tag("admin/_platform_fact_notices.html")
def platform_fact_notices(account, since, until=None):
    return {
        "account": account,
        "changes": platform_fact_changes(account=account, since=since, until=until) if since else [],
    }

"""Routing rules are data (RoutingRule rows, edited in the admin): the first active
rule, by position, whose non-blank fields all match picks the queue of a new case."""

from __future__ import annotations

from cases.models import Queue, RoutingRule

FALLBACK_QUEUE_SLUG = "reader-reports"


def rule_matches(rule: RoutingRule, *, policy_family: str, policy_code: str, source: str) -> bool:
    return (
        (not rule.policy_family or rule.policy_family == policy_family)
        and (not rule.policy_code or rule.policy_code == policy_code)
        and (not rule.source or rule.source == source)
    )


def route(*, policy_family: str, policy_code: str = "", source: str = "") -> Queue:
    """The queue for a case opened by a signal of `source` about `policy_code`.

    With no matching rule the case still lands somewhere a person looks: the
    reader-reports queue, or the first queue there is.
    """
    for rule in RoutingRule.objects.filter(is_active=True).select_related("queue").order_by("position", "id"):
        if rule_matches(rule, policy_family=policy_family, policy_code=policy_code, source=source):
            return rule.queue
    fallback = Queue.objects.filter(slug=FALLBACK_QUEUE_SLUG).first() or Queue.objects.order_by("position").first()
    if fallback is None:
        fallback, _ = Queue.objects.get_or_create(
            slug=FALLBACK_QUEUE_SLUG, defaults={"name": "Reader reports", "allowed_roles": ["moderator"]}
        )
    return fallback

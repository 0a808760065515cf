"""Routing rules and queues: configuration as data, every edit audited."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction

from cases import permissions
from cases.models import Queue, RoutingRule
from moderation.audit import record_event


def save_routing_rule(*, actor, rule: RoutingRule, changed: Iterable[str] = ()) -> RoutingRule:
    """Routing rules are data; every edit is audited."""
    if not permissions.can_edit_routing(actor):
        raise PermissionDenied("You may not edit routing rules.")
    with transaction.atomic():
        created = rule.pk is None
        rule.full_clean()
        rule.save()
        record_event(
            actor=actor,
            verb="routing_rule.saved",
            target=rule,
            after={
                "created": created,
                "changed": sorted(changed),
                "queue": rule.queue.slug,
                "position": rule.position,
                "policy_family": rule.policy_family,
                "policy_code": rule.policy_code,
                "source": rule.source,
                "is_active": rule.is_active,
            },
        )
    return rule


def save_queue(*, actor, queue: Queue, changed: Iterable[str] = ()) -> Queue:
    if not actor.has_perm("cases.change_queue"):
        raise PermissionDenied("You may not edit queues.")
    with transaction.atomic():
        queue.full_clean()
        queue.save()
        record_event(
            actor=actor,
            verb="queue.saved",
            target=queue,
            after={"changed": sorted(changed), "sla_hours": queue.sla_hours, "allowed_roles": queue.allowed_roles},
        )
    return queue

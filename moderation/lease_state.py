"""The state of leased background work, one definition for both outboxes (enforcement
`OutboxEntry`, every other job `BackgroundJob`): both rows carry done_at, gave_up_at,
leased_until and last_error, and a person reads the same five states on both lists."""

from django.contrib import admin
from django.db import models
from django.db.models import Q
from django.utils import timezone


class LeaseState(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Failed, will retry"
    GAVE_UP = "gave_up", "Failed, gave up"
    DONE = "done", "Done"


def lease_state(work, now=None) -> str:
    if work.done_at:
        return LeaseState.DONE
    if work.gave_up_at:
        return LeaseState.GAVE_UP
    if work.leased_until and work.leased_until > (now or timezone.now()):
        return LeaseState.RUNNING
    if work.last_error:
        return LeaseState.RETRYING
    return LeaseState.PENDING


def lease_state_q(state: str, now=None) -> Q | None:
    """The rows `lease_state` puts in `state`, as a filter (None for an unknown state)."""
    leased = Q(leased_until__gt=now or timezone.now())
    open_ = Q(done_at__isnull=True, gave_up_at__isnull=True)
    return {
        LeaseState.DONE: Q(done_at__isnull=False),
        LeaseState.GAVE_UP: Q(done_at__isnull=True, gave_up_at__isnull=False),
        LeaseState.RUNNING: open_ & leased,
        LeaseState.RETRYING: open_ & ~leased & ~Q(last_error=""),
        LeaseState.PENDING: open_ & ~leased & Q(last_error=""),
    }.get(state)


class LeaseStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return LeaseState.choices

    def queryset(self, request, queryset):
        condition = lease_state_q(self.value())
        return queryset if condition is None else queryset.filter(condition)

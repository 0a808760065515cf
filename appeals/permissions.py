"""Who may do what with appeals. Used by the services, the admin and the views alike.

The conflict-of-interest rule (invariant 3): nobody who decided or approved the
decision an appeal challenges may claim or decide that appeal."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from appeals.models import OPEN_APPEAL_STATUSES, Appeal, AppealStatus
from appeals.selectors import conflicted_user_ids


def can_view_appeals(user) -> bool:
    return bool(user and user.is_active and user.has_perm("appeals.view_appeal"))


def can_review_appeals(user) -> bool:
    return bool(user and user.is_active and user.has_perm("appeals.review_appeal"))


def is_conflicted(user, appeal: Appeal) -> bool:
    cache = getattr(appeal, "_conflicted_ids", None)
    if cache is None:
        cache = conflicted_user_ids(appeal)
        appeal._conflicted_ids = cache
    return user.pk in cache


def can_claim(user, appeal: Appeal, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if not can_review_appeals(user) or appeal.status not in OPEN_APPEAL_STATUSES:
        return False
    if is_conflicted(user, appeal):
        return False
    return appeal.assignee_id in (None, user.pk) or appeal.claim_expires_at <= now


def can_decide(user, appeal: Appeal, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        can_review_appeals(user)
        and appeal.status == AppealStatus.IN_REVIEW
        and appeal.assignee_id == user.pk
        and appeal.claim_expires_at is not None
        and appeal.claim_expires_at > now
        and not is_conflicted(user, appeal)
    )

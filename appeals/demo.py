"""Demo appeals on top of the review step's decided cases: an appeal against a Partner
Program action, one against a story action, and a follower appeal from a writer who
lost followers to a purge. Safe to run twice: existing appeals are left as they are."""

from __future__ import annotations

import random

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from appeals.models import Appeal, AppealKind
from cases.models import ActionStatus, EnforcementAction
from moderation.models import Account, Outcome

STATEMENTS = [
    "I wrote every word of this story myself over two weekends; I can share my drafts and notes. "
    "English is my second language and I use a spell checker, nothing more.",
    "The readers who engage with my stories are people from my writing class, not a ring. "
    "We read each other because we share a topic, and nobody asked for claps in return.",
    "My follower count dropped by hundreds overnight. Many of the accounts removed are people I know, "
    "who write and comment regularly.",
]


def seed_demo_appeals(rng: random.Random) -> list[str]:
    lines = []
    if not Appeal.objects.exists():
        _apply_pending_demo_actions()
        lines = _file_demo_appeals()
    example = Appeal.objects.order_by("-money_at_stake", "id").first()
    if example is not None:
        url = settings.SITE_URL + reverse("appeals:status", args=[example.tracking_token])
        lines.append(f"Writer's status page of appeal A-{example.pk:06d}: {url}")
    else:
        lines.append("Appeals: no applied actions yet, so no demo appeals.")
    return lines


def _apply_pending_demo_actions() -> None:
    """The seed runs in one transaction, so the apply jobs the earlier steps queued run
    only after it commits. Run those job bodies now (they are idempotent, and the queued
    jobs find the actions applied) so there is something to appeal."""
    from cases.models import OutboxEntry, OutboxOperation
    from cases.services.enforcement import apply_action

    pending = OutboxEntry.objects.filter(
        operation=OutboxOperation.APPLY, done_at__isnull=True, action__status=ActionStatus.APPROVED
    ).values_list("action_id", flat=True)
    for action_id in list(pending[:500]):
        apply_action(action_id=action_id)


@transaction.atomic
def _file_demo_appeals() -> list[str]:
    from appeals.selectors import can_appeal_followers
    from appeals.services import file_appeal

    lines = []
    applied = EnforcementAction.objects.filter(status=ActionStatus.APPLIED).exclude(
        outcome__in=[Outcome.FOLLOWERS_PURGE, Outcome.ACCOUNT_SUSPEND]
    )
    money = applied.filter(outcome__in=[Outcome.PARTNER_REVOKE, Outcome.PARTNER_EARNINGS_HOLD]).order_by("id")
    story = applied.filter(story__isnull=False).order_by("id")
    for candidates, statement in ((money, STATEMENTS[1]), (story, STATEMENTS[0])):
        action = candidates.exclude(account__appeals__isnull=False).first()
        if action is None:
            continue
        try:
            appeal = file_appeal(
                account=action.account,
                action=action,
                writer_statement=statement,
                contact_email=action.account.email or f"{action.account.handle}@example.com",
            )
        except ValidationError:
            continue
        lines.append(f"Appeal A-{appeal.pk:06d} by @{action.account.handle} against {action.get_outcome_display()}")

    purged_writers = (
        Account.objects.filter(follower_edges__is_active=False, follower_edges__removed_by__startswith="action-")
        .exclude(appeals__kind=AppealKind.FOLLOWERS)
        .exclude(platform_id__startswith="fake")
        .distinct()
        .order_by("id")
    )
    for writer in purged_writers[:5]:
        if not can_appeal_followers(writer):
            continue
        edge = writer.follower_edges.filter(is_active=False).order_by("removed_at").first()
        appeal = file_appeal(
            account=writer,
            action=None,
            followers_dropped_on=edge.removed_at.date(),
            writer_statement=STATEMENTS[2],
            contact_email=writer.email or f"{writer.handle}@example.com",
        )
        lines.append(f"Follower appeal A-{appeal.pk:06d} by @{writer.handle}")
        break
    return lines

"""The Appeals queue panel on the admin home."""

from __future__ import annotations

from appeals import permissions, selectors
from moderation.dashboard import Panel


def appeals_panel(request) -> dict | None:
    if not permissions.can_view_appeals(request.user):
        return None
    return {
        "summary": selectors.queue_summary(request.user),
        "can_review": permissions.can_review_appeals(request.user),
    }


PANELS = [Panel(key="appeals", template="admin/appeals/panel.html", context=appeals_panel, position=200)]

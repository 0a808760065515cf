"""The queues panel on the admin home: what waits in each queue the user may work."""

from __future__ import annotations

from cases.selectors.review import decisions_awaiting_approval, held_case, queue_overview
from moderation.dashboard import Panel, register_panel


def queues_panel(request) -> dict | None:
    user = request.user
    rows = queue_overview(user=user)
    approvals = None
    if user.has_perm("cases.approve_severe"):
        approvals = decisions_awaiting_approval().exclude(decided_by=user).count()
    if not rows and approvals is None:
        return None
    return {"rows": rows, "held": held_case(user=user), "approvals": approvals}


def register() -> None:
    register_panel(
        Panel(key="queues", template="admin/cases/review/panel_queues.html", context=queues_panel, position=10)
    )

"""Panels on the admin home: the supervisor's entry to every report, and the QA queue
for reviewers who may give blind second decisions."""

from __future__ import annotations

from moderation.dashboard import Panel
from moderation.outbox import failed_jobs
from supervision import permissions, selectors
from supervision.models import DetectorRecall, RecallStatus


def supervisor_panel(request) -> dict | None:
    if not permissions.can_view_reports(request.user):
        return None
    period = selectors.Period.last_days(28)
    low = [d for d in selectors.detector_measures(period=period) if d["low_precision"]]
    return {
        "qa": selectors.qa_counts(),
        "low_precision": low[:5],
        "running_recalls": DetectorRecall.objects.filter(
            status__in=[RecallStatus.QUEUED, RecallStatus.RUNNING]
        ).count(),
        "failed_jobs": failed_jobs().count(),
    }


def qa_review_panel(request) -> dict | None:
    if not permissions.can_qa_review(request.user):
        return None
    return {"waiting": selectors.qa_queue_for(request.user).count()}


PANELS = [
    Panel(
        key="supervision", template="admin/supervision/panels/supervisor.html", context=supervisor_panel, position=300
    ),
    Panel(key="qa-review", template="admin/supervision/panels/qa_review.html", context=qa_review_panel, position=250),
]

"""The review pages, mounted at /admin/review/ (inside the admin's login)."""

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path

from cases import permissions, queue_views, statement_views, views
from cases.blinding import blinded_view
from cases.evidence import views as evidence_views
from cases.models import Decision

app_name = "review"


def _v(view, role_check=permissions.can_review_cases, outer=None):
    """Inside the admin's login, and only for the role the page serves (403 otherwise);
    the services still check each object. `outer` runs before the role check (blind QA
    names its own reason to whoever holds the sample)."""

    @wraps(view)
    def gated(request, *args, **kwargs):
        if not role_check(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return admin.site.admin_view(outer(gated) if outer else gated)


def _views_cases(user) -> bool:
    """Staff who read cases (the view checks the file's case itself)."""
    return bool(user.is_active and user.has_perm("cases.view_case"))


def _reviews_or_assigns(user) -> bool:
    return permissions.can_review_cases(user) or permissions.can_assign(user)


def _case(view, role_check=permissions.can_review_cases):
    """A page about one case: closed to whoever holds its blind QA sample."""
    return _v(view, role_check, outer=blinded_view)


def _decision_case(pk: int) -> int | None:
    return Decision.objects.filter(pk=pk).values_list("case_id", flat=True).first()


def _decision(view, role_check=permissions.can_review_cases):
    return _v(view, role_check, outer=lambda v: blinded_view(v, case_of=_decision_case))


urlpatterns = [
    path("queue/<slug:slug>/next/", _v(views.review_next), name="next"),
    path("queue/<slug:slug>/", _v(queue_views.queue_page), name="queue"),
    path("queue/<slug:slug>/case/<int:pk>/claim/", _case(queue_views.claim_from_list), name="claim_from_list"),
    path("case/<int:pk>/", _case(views.case_review, _reviews_or_assigns), name="case"),
    path("case/<int:pk>/claim/", _case(views.claim), name="claim"),
    path("case/<int:pk>/renew/", _case(views.renew), name="renew"),
    path("case/<int:pk>/release/", _case(views.release), name="release"),
    path("case/<int:pk>/skip/", _case(views.skip), name="skip"),
    path("case/<int:pk>/escalate/", _case(views.escalate), name="escalate"),
    path("case/<int:pk>/statement/", _case(statement_views.statement_preview), name="statement_preview"),
    path("case/<int:pk>/assign/", _case(views.assign, permissions.can_assign), name="assign"),
    path("approvals/", _v(views.approvals, permissions.can_approve_any), name="approvals"),
    path("decision/<int:pk>/approve/", _decision(views.approve, permissions.can_approve_any), name="approve"),
    path("approvals/approve/", _v(views.approve_many, permissions.can_approve_any), name="approve_many"),
    path("decision/<int:pk>/reject/", _decision(views.reject, permissions.can_approve_any), name="reject"),
    path("bulk/", _v(views.bulk), name="bulk"),
    path("case/<int:pk>/evidence/", _case(evidence_views.request_evidence), name="request_evidence"),
    path("evidence/<int:pk>/file/", _v(views.evidence_file, _views_cases), name="evidence_file"),
]

"""The review pages, mounted at /admin/review/ (inside the admin's login)."""

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path

from cases import permissions, views

app_name = "review"


def _v(view, role_check=permissions.can_review_cases):
    """Inside the admin's login, and only for the role the page serves (403 otherwise);
    the services still check each object."""

    @wraps(view)
    def gated(request, *args, **kwargs):
        if not role_check(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return admin.site.admin_view(gated)


def _reviews_or_assigns(user) -> bool:
    return permissions.can_review_cases(user) or permissions.can_assign(user)


urlpatterns = [
    path("queue/<slug:slug>/next/", _v(views.review_next), name="next"),
    path("case/<int:pk>/", _v(views.case_review, _reviews_or_assigns), name="case"),
    path("case/<int:pk>/claim/", _v(views.claim), name="claim"),
    path("case/<int:pk>/renew/", _v(views.renew), name="renew"),
    path("case/<int:pk>/release/", _v(views.release), name="release"),
    path("case/<int:pk>/skip/", _v(views.skip), name="skip"),
    path("case/<int:pk>/escalate/", _v(views.escalate), name="escalate"),
    path("case/<int:pk>/assign/", _v(views.assign, permissions.can_assign), name="assign"),
    path("approvals/", _v(views.approvals, permissions.can_approve_any), name="approvals"),
    path("decision/<int:pk>/approve/", _v(views.approve, permissions.can_approve_any), name="approve"),
    path("decision/<int:pk>/reject/", _v(views.reject, permissions.can_approve_any), name="reject"),
    path("bulk/", _v(views.bulk), name="bulk"),
]

"""The review pages, mounted at /admin/review/ (inside the admin's login)."""

from django.contrib import admin
from django.urls import path

from cases import views
from cases.blinding import blinded_view
from cases.models import Decision

app_name = "review"


def _v(view):
    return admin.site.admin_view(view)


def _case(view):
    """A page about one case: closed to whoever holds its blind QA sample."""
    return _v(blinded_view(view))


def _decision_case(pk: int) -> int | None:
    return Decision.objects.filter(pk=pk).values_list("case_id", flat=True).first()


def _decision(view):
    return _v(blinded_view(view, case_of=_decision_case))


urlpatterns = [
    path("queue/<slug:slug>/next/", _v(views.review_next), name="next"),
    path("case/<int:pk>/", _case(views.case_review), name="case"),
    path("case/<int:pk>/claim/", _case(views.claim), name="claim"),
    path("case/<int:pk>/renew/", _case(views.renew), name="renew"),
    path("case/<int:pk>/release/", _case(views.release), name="release"),
    path("case/<int:pk>/skip/", _case(views.skip), name="skip"),
    path("case/<int:pk>/escalate/", _case(views.escalate), name="escalate"),
    path("case/<int:pk>/assign/", _case(views.assign), name="assign"),
    path("approvals/", _v(views.approvals), name="approvals"),
    path("decision/<int:pk>/approve/", _decision(views.approve), name="approve"),
    path("approvals/approve/", _v(views.approve_many), name="approve_many"),
    path("decision/<int:pk>/reject/", _decision(views.reject), name="reject"),
    path("bulk/", _v(views.bulk), name="bulk"),
]

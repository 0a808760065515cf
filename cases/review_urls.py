"""The review pages, mounted at /admin/review/ (inside the admin's login)."""

from django.contrib import admin
from django.urls import path

from cases import views

app_name = "review"


def _v(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("queue/<slug:slug>/next/", _v(views.review_next), name="next"),
    path("case/<int:pk>/", _v(views.case_review), name="case"),
    path("case/<int:pk>/claim/", _v(views.claim), name="claim"),
    path("case/<int:pk>/renew/", _v(views.renew), name="renew"),
    path("case/<int:pk>/release/", _v(views.release), name="release"),
    path("case/<int:pk>/skip/", _v(views.skip), name="skip"),
    path("case/<int:pk>/escalate/", _v(views.escalate), name="escalate"),
    path("case/<int:pk>/assign/", _v(views.assign), name="assign"),
    path("approvals/", _v(views.approvals), name="approvals"),
    path("decision/<int:pk>/approve/", _v(views.approve), name="approve"),
    path("decision/<int:pk>/reject/", _v(views.reject), name="reject"),
    path("bulk/", _v(views.bulk), name="bulk"),
    path("evidence/<int:pk>/file/", _v(views.evidence_file), name="evidence_file"),
]

"""Mounted at /admin/supervision/ (moderation/urls.py)."""

from django.urls import path

from supervision import views

app_name = "supervision"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("detectors/<str:name>/<str:version>/", views.detector_detail, name="detector"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("audit/heads.jsonl", views.audit_heads, name="audit_heads"),
    path("decisions/", views.decisions, name="decisions"),
    path("decisions/export.csv", views.decisions_export, name="decisions_export"),
    path("qa/", views.qa_overview, name="qa"),
    path("qa/<int:pk>/settle/", views.qa_settle, name="qa_settle"),
    path("qa/review/next/", views.qa_next, name="qa_next"),
    path("qa/review/<int:pk>/", views.qa_review, name="qa_review"),
    path("recall/", views.recall_index, name="recall"),
    path("recall/runs/<int:pk>/", views.recall_status, name="recall_status"),
    path("recall/runs/<int:pk>/resume/", views.recall_resume, name="recall_resume"),
    path("recall/plans/<int:pk>/", views.recall_plan, name="recall_plan"),
    path("recall/<str:name>/<str:version>/", views.recall_detector, name="recall_detector"),
    path("transparency/", views.transparency, name="transparency"),
    path("transparency.csv", views.transparency, {"fmt": "csv"}, name="transparency_csv"),
    path("transparency.json", views.transparency, {"fmt": "json"}, name="transparency_json"),
]

from django.urls import path
from rest_framework.routers import SimpleRouter

from cases.api import CaseViewSet, SignalIngestView

app_name = "cases"

router = SimpleRouter()
router.register("cases", CaseViewSet, basename="case")

urlpatterns = [
    path("signals/", SignalIngestView.as_view(), name="signals"),
    *router.urls,
]

"""Views that lose their database connection (tests/moderation/test_faults.py)."""

import psycopg
from django.db import OperationalError
from django.urls import path


def lost(request):
    raise OperationalError("server closed the connection unexpectedly") from psycopg.OperationalError(
        "server closed the connection unexpectedly"
    )


urlpatterns = [path("lost/", lost), path("api/lost/", lost)]

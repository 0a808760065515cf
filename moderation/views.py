from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render


def ratelimited(request, exception=None):
    """django-ratelimit's refusal, as a page a writer can read."""
    response = render(request, "writer/ratelimited.html", status=429)
    response["Retry-After"] = "60"
    return response


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


def home(request):
    return redirect("admin:index")

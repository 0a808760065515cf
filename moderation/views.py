from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render


def ratelimited(request, exception=None):
    """django-ratelimit's refusal, as a page a writer can read."""
    return render(request, "writer/ratelimited.html", status=429, headers={"Retry-After": "60"})


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


def home(request):
    return redirect("admin:index")

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.defaults import page_not_found


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


def not_found(request, exception=None):
    """404 for any URL: JSON under /api/ (the schema documents it so), the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)

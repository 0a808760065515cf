"""The RQ dashboard (`/admin/django-rq/`), locked to roles: supervisors read it,
superusers may change queues (empty, delete, requeue, enqueue, stop), every other
role gets 403. Views we do not know are superuser-only, so an upgrade of django-rq
cannot open a new door. Job arguments are ids only (moderation.jobs.enqueue), so
reading the console shows no links or tokens."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import re_path, reverse
from django_rq import cron_views, stats_views, views
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from moderation.roles import Role, has_role

READ_VIEWS = frozenset(
    {
        stats_views.stats,
        stats_views.stats_json,
        views.jobs,
        views.queue_details,
        views.finished_jobs,
        views.failed_jobs,
        views.scheduled_jobs,
        views.started_jobs,
        views.deferred_jobs,
        views.job_detail,
        views.result_detail,
        views.workers,
        views.worker_details,
        views.scheduler_jobs,
        cron_views.cron_scheduler_detail,
        cron_views.cron_job_detail,
    }
)


def _staff_person(user) -> bool:
    return user.is_authenticated and user.is_active and user.is_staff and not hasattr(user, "api_client")


def can_read_queues(user) -> bool:
    return _staff_person(user) and (user.is_superuser or has_role(user, Role.SUPERVISOR))


def can_change_queues(user) -> bool:
    return _staff_person(user) and user.is_superuser


def _guard(view):
    check = can_read_queues if view in READ_VIEWS else can_change_queues

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not check(request.user):
            raise PermissionDenied("The job console is for supervisors (read) and superusers.")
        return view(request, *args, **kwargs)

    return guarded


app_name = "django_rq"
# The JSON/metrics views would also accept RQ_API_TOKEN; here they take the session and roles only.
urlpatterns = [
    re_path(str(pattern.pattern), _guard(pattern.callback), name=pattern.name) for pattern in get_api_urlpatterns()
] + get_admin_urlpatterns(view_wrapper=_guard)

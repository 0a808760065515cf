"""Roles reach only their tools: the RQ console (supervisors read, superusers act,
others 403), job arguments without links or tokens, appeals reviewers kept out of
case review and QA."""

import django_rq
import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import reverse
from rq import SimpleWorker

from appeals.models import MagicLinkRequest
from appeals.services import request_magic_link
from cases.services import review
from moderation.jobs import QUEUE_PRIORITY
from moderation.models import BackgroundJob
from supervision.services import claim_next_qa_sample
from tests.factories import (
    AccountFactory,
    CaseFactory,
    DecisionFactory,
    QueueFactory,
    UserFactory,
    appeals_reviewer,
    moderator,
    senior_moderator,
    supervisor,
)
from tests.rq_support import fake_redis, queue_index  # noqa: F401  (fixture)
from tests.supervision.factories import QASampleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(fake_redis):  # noqa: F811
    queue = django_rq.get_queue("default", commit_mode="auto")
    job = queue.enqueue("cases.jobs.drain_outbox_job")
    return queue, job


def _urls(job):
    index = queue_index("default")
    return {
        "home": reverse("django_rq:home"),
        "jobs": reverse("django_rq:jobs", args=[index]),
        "job": reverse("django_rq:job_detail", args=[index, job.id]),
        "empty": reverse("django_rq:clear", args=[index]),
        "delete": reverse("django_rq:delete_job", args=[index, job.id]),
        "requeue_all": reverse("django_rq:requeue_all", args=[index]),
    }


def _client(user):
    client = Client(enforce_csrf_checks=False)
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("make_user", [moderator, senior_moderator, appeals_reviewer], ids=lambda f: f.__name__)
def test_reviewers_get_403_everywhere_in_the_job_console(queued, make_user):
    queue, job = queued
    client = _client(make_user())
    for name, url in _urls(job).items():
        assert client.get(url).status_code == 403, name
        assert client.post(url, {"post": "yes"}).status_code == 403, name
    assert queue.count == 1


def test_a_moderator_trying_to_empty_a_queue_is_refused_and_the_queue_keeps_its_jobs(queued):
    queue, job = queued
    response = _client(moderator()).post(_urls(job)["empty"], {"post": "yes"})
    assert response.status_code == 403
    assert queue.count == 1 and queue.fetch_job(job.id) is not None


def test_supervisors_read_the_console_but_change_nothing(queued):
    queue, job = queued
    client = _client(supervisor())
    urls = _urls(job)
    for name in ("home", "jobs", "job"):
        assert client.get(urls[name]).status_code == 200, name
    for name in ("empty", "delete", "requeue_all"):
        assert client.get(urls[name]).status_code == 403, name
        assert client.post(urls[name], {"post": "yes"}).status_code == 403, name
    assert queue.count == 1


def test_superusers_may_empty_a_queue(queued):
    queue, job = queued
    admin = UserFactory(is_superuser=True)
    response = _client(admin).post(_urls(job)["empty"], {"post": "yes"})
    assert response.status_code in (200, 302)
    assert queue.count == 0


def test_anonymous_visitors_are_sent_to_the_login(queued):
    _, job = queued
    response = _client(None).get(_urls(job)["home"])
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_the_console_has_no_second_door_under_the_admin_models(queued):
    response = _client(UserFactory(is_superuser=True)).get("/admin/django_rq/dashboard/")
    assert response.status_code == 404


# Job arguments ----------------------------------------------------------------------


def _all_job_args(queue_names=QUEUE_PRIORITY):
    """What each queued job will run: an outbox job's RQ arguments are only the row's id,
    so its function and arguments are read from the row (moderation.outbox)."""
    args = []
    for name in queue_names:
        for job in django_rq.get_queue(name).get_jobs():
            if job.func_name == "moderation.outbox.run_job":
                assert job.args == (job.args[0],) and isinstance(job.args[0], int) and not job.kwargs
                row = BackgroundJob.objects.get(pk=job.args[0])
                args.append((row.func, tuple(row.args), row.kwargs))
            else:
                args.append((job.func_name, job.args, job.kwargs))
    return args


def _ids(values):
    for value in values:
        yield from (value if isinstance(value, list) else [value])


@override_settings(JOBS_RUN_INLINE=False, SITE_URL="https://backoffice.example")
def test_the_magic_link_job_carries_the_request_id_and_builds_the_link_itself(
    fake_redis,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    writer = AccountFactory(email="writer@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        request_magic_link(handle=writer.handle, email=writer.email)
    jobs = _all_job_args()
    # The same job for known and unknown writers (no oracle), and never a link, a token
    # or what the writer typed: the id of the row holding it (appeals.MagicLinkRequest).
    typed = MagicLinkRequest.objects.get()
    assert jobs == [("appeals.jobs.send_magic_link_request", (typed.pk,), {})]
    for _, args, kwargs in jobs:
        for value in [*args, *kwargs.values()]:
            assert isinstance(value, int) or ("://" not in value and ":" not in value), value
    queue = django_rq.get_queue("email")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert len(mail.outbox) == 1
    assert "https://backoffice.example/appeal/start/" in mail.outbox[0].body


@override_settings(JOBS_RUN_INLINE=False)
def test_review_jobs_carry_ids_only(fake_redis, django_capture_on_commit_callbacks):  # noqa: F811
    from tests.cases.review_factories import story_case
    from tests.cases.test_review_decisions import claimed, data

    case = story_case()
    user = moderator()
    claimed(case, user)
    with django_capture_on_commit_callbacks(execute=True):
        review.decide_case(case=case, user=user, data=data())
    jobs = _all_job_args()
    assert jobs, "deciding enqueues the enforcement and notice jobs"
    for func, args, kwargs in jobs:
        assert all(isinstance(v, int) for v in _ids([*args, *kwargs.values()])), (func, args, kwargs)


# Appeals reviewers never review cases ---------------------------------------------------


def test_appeals_reviewers_do_not_hold_case_review():
    assert not appeals_reviewer().has_perm("cases.review_case")


def test_appeals_reviewers_cannot_claim_cases_even_from_a_queue_opened_to_them():
    queue = QueueFactory(allowed_roles=["appeals_reviewer", "moderator"])
    case = CaseFactory(queue=queue)
    reviewer = appeals_reviewer()
    reviewer.user_permissions.add(Permission.objects.get(codename="review_case"))
    reviewer = type(reviewer).objects.get(pk=reviewer.pk)
    assert reviewer.has_perm("cases.review_case"), "even with the permission granted by hand"
    with pytest.raises(PermissionDenied):
        review.claim_next_case(user=reviewer, queue=queue)
    with pytest.raises(PermissionDenied):
        review.claim_case(user=reviewer, case=case)
    assert review.claim_next_case(user=moderator(), queue=queue) == case


def test_appeals_reviewers_cannot_claim_blind_qa_samples():
    QASampleFactory(decision=DecisionFactory())
    with pytest.raises(PermissionDenied):
        claim_next_qa_sample(user=appeals_reviewer())
    assert claim_next_qa_sample(user=moderator()) is not None

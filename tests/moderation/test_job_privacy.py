"""Background jobs carry ids, never what a person typed: a supervisor reading the job
list, a job's page, the admin's search and filters, the RQ console or the audit row of
a retry sees no writer's handle or email, and the sign-in link still arrives."""

from __future__ import annotations

import io
import logging
import smtplib
from contextlib import contextmanager
from datetime import timedelta

import django_rq
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from appeals import notifications
from appeals.models import MagicLinkRequest
from moderation import outbox
from moderation.models import AuditEvent, BackgroundJob
from tests.factories import AccountFactory, supervisor
from tests.moderation.test_faults import redis_switch  # noqa: F401  (fixture)
from tests.rq_support import queue_index

pytestmark = pytest.mark.django_db

HANDLE, EMAIL = "ada_lovelace", "ada.private@example.com"
STRANGER = ("nobody_here", "stranger@example.org")
TYPED = (HANDLE, EMAIL, *STRANGER)


def later(seconds=120):
    return timezone.now() + timedelta(seconds=seconds)


@contextmanager
def console_log():
    """What the configured console handler (settings.LOGGING) prints, captured."""
    (console,) = [h for h in logging.getLogger().handlers if h.name == "console"]
    printed = io.StringIO()
    previous = console.setStream(printed)
    try:
        yield printed
    finally:
        console.setStream(previous)


def ask_for_links(client, run_on_commit):
    for handle, email in ((f"@{HANDLE}", EMAIL), STRANGER):
        with run_on_commit():
            response = client.post(reverse("appeals:start"), {"handle": handle, "email": email})
        assert response.status_code == 200


def assert_nothing_typed_in(page: str) -> None:
    for value in TYPED:
        assert value not in page


def supervisor_pages(client, *urls) -> str:
    client.force_login(supervisor())
    pages = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    client.logout()
    return "\n".join(pages)


def test_a_supervisor_reading_the_jobs_never_sees_what_a_writer_typed_and_the_link_still_arrives(
    redis_switch,  # noqa: F811
    run_on_commit,
    client,
):
    AccountFactory(handle=HANDLE, email=EMAIL)
    ask_for_links(client, run_on_commit)  # Redis is down: the jobs wait in the outbox
    jobs = list(BackgroundJob.objects.order_by("pk"))
    assert [job.func for job in jobs] == ["appeals.jobs.send_magic_link_request"] * 2
    typed = MagicLinkRequest.objects.order_by("pk").values_list("pk", flat=True)
    assert [job.args for job in jobs] == [[pk] for pk in typed]

    changelist = reverse("admin:moderation_backgroundjob_changelist")
    pages = supervisor_pages(
        client, changelist, *(reverse("admin:moderation_backgroundjob_change", args=[job.pk]) for job in jobs)
    )
    assert_nothing_typed_in(pages)
    assert f"send_magic_link_request(request_id={jobs[0].args[0]})" in pages
    # Searching for what was typed finds nothing (the search box echoes the query itself).
    for typed in (HANDLE, "example"):
        assert "0 results" in supervisor_pages(client, f"{changelist}?q={typed}")

    # The admin's URL filters would answer yes/no about arguments it does not show.
    client.force_login(supervisor())
    for probe in ("args__icontains", "kwargs__icontains", "args__0"):
        assert client.get(f"{changelist}?{probe}={HANDLE}").status_code == 400
    client.logout()

    redis_switch.up = True
    assert outbox.drain_jobs(now=later()) == 2
    redis_switch.work()
    assert [message.to for message in mail.outbox] == [[EMAIL]]
    assert "/appeal/start/" in mail.outbox[0].body
    assert not MagicLinkRequest.objects.exists(), "what was typed is forgotten once the job ran"
    assert all(job.state() == "done" for job in BackgroundJob.objects.all())
    assert_nothing_typed_in(supervisor_pages(client, changelist))


def test_the_rq_console_shows_only_the_outbox_row_id(redis_switch, run_on_commit, client):  # noqa: F811
    redis_switch.up = True
    AccountFactory(handle=HANDLE, email=EMAIL)
    ask_for_links(client, run_on_commit)
    queue = django_rq.get_queue("email")
    rq_jobs = queue.get_jobs()
    assert len(rq_jobs) == 2
    assert sorted(job.args for job in rq_jobs) == [
        (pk,) for pk in BackgroundJob.objects.order_by("pk").values_list("pk", flat=True)
    ]
    console = f"/admin/django-rq/queues/{queue_index('email')}/"
    pages = supervisor_pages(client, console, *(f"{console}{job.id}/" for job in rq_jobs))
    assert_nothing_typed_in(pages)


def test_a_refused_recipient_is_not_written_into_the_job_error_nor_the_audit_of_its_retry(
    redis_switch,  # noqa: F811
    run_on_commit,
    client,
    monkeypatch,
    settings,
):
    settings.BACKGROUND_JOBS = {"MAX_ATTEMPTS": 1}
    AccountFactory(handle=HANDLE, email=EMAIL)

    def refuse(message, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({EMAIL: (550, f"5.1.1 <{EMAIL}>: Recipient address rejected".encode())})

    monkeypatch.setattr(notifications.EmailMessage, "send", refuse)
    redis_switch.up = True
    ask_for_links(client, run_on_commit)
    with console_log() as printed:
        redis_switch.work()
    failed = BackgroundJob.objects.get(gave_up_at__isnull=False)
    assert "SMTPRecipientsRefused" in failed.last_error and "[email]" in failed.last_error
    assert EMAIL not in failed.last_error
    # What the worker printed (the failure with its traceback) went out blanked too.
    assert "Traceback" in printed.getvalue() and "SMTPRecipientsRefused" in printed.getvalue()
    assert "[email]" in printed.getvalue()
    assert_nothing_typed_in(printed.getvalue())

    changelist = reverse("admin:moderation_backgroundjob_changelist")
    boss = supervisor()
    client.force_login(boss)
    assert_nothing_typed_in(client.get(changelist).content.decode())
    with run_on_commit():
        client.post(changelist, {"action": "retry_jobs", "_selected_action": [failed.pk]})
    retried = AuditEvent.objects.get(verb="job.retried")
    assert_nothing_typed_in(" ".join(map(str, (retried.target_label, retried.reason, retried.before, retried.after))))


def test_a_job_is_described_by_argument_names_with_values_only_for_ids():
    job = BackgroundJob(func="appeals.jobs.send_appeal_email", args=[4, "submitted"], next_attempt_at=later())
    assert outbox.describe_call(job) == "send_appeal_email(appeal_id=4, event=…)"
    gone = BackgroundJob(func="appeals.jobs.no_longer_there", args=[EMAIL, [1, 2]], kwargs={"who": HANDLE})
    assert outbox.describe_call(gone) == "no_longer_there(arg1=…, arg2=[1, 2], who=…)"
    assert str(gone) == "no_longer_there #None"


def test_a_job_asked_to_carry_an_email_address_is_refused_before_it_is_recorded(run_on_commit):
    from appeals import jobs
    from moderation.jobs import enqueue

    with pytest.raises(ValueError, match="never an email address"), run_on_commit():
        enqueue(jobs.send_appeal_email, 4, EMAIL, queue="email")
    with pytest.raises(ValueError), run_on_commit():
        enqueue(jobs.send_appeal_email, appeal_id=4, event=[f"<{EMAIL}>"], queue="email")
    assert not BackgroundJob.objects.exists()


def test_jobs_recorded_the_old_way_are_rewritten_to_carry_ids_and_their_errors_scrubbed():
    """The data migrations (appeals 0006, moderation 0014), run on rows as they were."""
    from importlib import import_module

    from django.apps import apps

    carry = import_module("appeals.migrations.0006_magic_link_requests")
    scrub = import_module("moderation.migrations.0014_scrub_job_errors")
    waiting = BackgroundJob.objects.create(
        func=carry.OLD, args=[HANDLE, EMAIL, "fr"], next_attempt_at=later(), last_error=f"refused <{EMAIL}>"
    )
    done = BackgroundJob.objects.create(func=carry.OLD, args=list(STRANGER), next_attempt_at=later(), done_at=later())
    carry.carry_ids_not_what_was_typed(apps, None)
    scrub.scrub(apps, None)

    waiting.refresh_from_db()
    done.refresh_from_db()
    typed = MagicLinkRequest.objects.get()
    assert (typed.handle, typed.email, typed.language) == (HANDLE, EMAIL, "fr")
    assert (waiting.func, waiting.args, waiting.last_error) == (carry.NEW, [typed.pk], "refused <[email]>")
    assert (done.func, done.args) == (carry.NEW, [])

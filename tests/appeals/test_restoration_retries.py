"""Nothing is stuck: a reversal the platform refuses is retried with backoff, shows in the
admin with a Retry, the writer reads "delayed" meanwhile, and the "restoration complete"
email goes out once when the last effect lands, whatever order the jobs ran in."""

import threading

import pytest
from django.conf import settings
from django.core import mail
from django.db import close_old_connections, connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from appeals import jobs, selectors, services
from appeals.models import AppealStatus
from cases.models import ActionStatus, OutboxEntry, OutboxOperation
from cases.services import enforcement
from moderation.models import AuditEvent
from tests.appeals.factories import applied_action
from tests.appeals.test_reversals import STATEMENT
from tests.factories import AccountFactory, StoryFactory, senior_moderator
from tests.moderation.test_platform import FakePlatform

pytestmark = pytest.mark.django_db

RESTORED = "Your restoration is complete"


def overturn(action, reviewer, run_on_commit):
    appeal = services.file_appeal(
        account=action.account, action=action, writer_statement=STATEMENT, contact_email="w@example.com"
    )
    services.claim_next_appeal(user=reviewer)
    with run_on_commit():
        services.decide_appeal(appeal=appeal, actor=reviewer, outcome=AppealStatus.OVERTURNED, statement="Restored.")
    appeal.refresh_from_db()
    return appeal


def http_platform(url, **extra):
    return override_settings(
        MODERATION={
            **settings.MODERATION,
            "PLATFORM_ADAPTER": "moderation.platform.HttpPlatformAdapter",
            "PLATFORM_URL": url,
            "PLATFORM_RETRIES": 1,
            "PLATFORM_RETRY_BACKOFF": 0,
            "OUTBOX_MAX_ATTEMPTS": 2,
            "OUTBOX_RETRY_BACKOFF_SECONDS": 60,
            **extra,
        }
    )


def restored_emails():
    return [m for m in mail.outbox if m.subject.startswith(RESTORED)]


def test_a_refused_reversal_retries_is_shown_delayed_and_the_admin_retry_finishes_it(
    client, paywall_action, reviewer, run_on_commit
):
    with FakePlatform([500, 500]) as platform, http_platform(platform.url):
        appeal = overturn(paywall_action, reviewer, run_on_commit)
        status_url = reverse("appeals:status", args=[appeal.tracking_token])
        entry = OutboxEntry.objects.get(action=paywall_action, operation=OutboxOperation.REVERSE)
        assert entry.state() == "retrying" and entry.next_attempt_at > timezone.now()
        paywall_action.refresh_from_db()
        assert paywall_action.status == ActionStatus.APPLIED

        page = client.get(status_url).content.decode()
        assert "delayed" in page and "We are restoring this now" not in page
        assert "HTTP 500" not in page  # plain words for the writer, no internals

        # The backoff runs out; the second attempt fails too and the outbox gives up.
        with run_on_commit():
            due = entry.next_attempt_at + timezone.timedelta(seconds=1)
            assert enforcement.drain_outbox(now=due) == 1
        entry.refresh_from_db()
        assert entry.state() == "gave_up" and entry.attempts == 2
        assert AuditEvent.objects.filter(verb="action.reversal_failed", target_id=str(paywall_action.pk)).exists()
        assert enforcement.drain_outbox(now=due + timezone.timedelta(days=1)) == 0
        assert "delayed" in client.get(status_url).content.decode()
        assert jobs.check_restorations() == 0 and not restored_emails()

        # An operator finds it in the admin and retries; the platform is back.
        client.force_login(senior_moderator())
        changelist = reverse("admin:cases_outboxentry_changelist")
        listing = client.get(changelist, {"state": "gave_up"}).content.decode()
        assert f'value="{entry.pk}"' in listing and "Failed, gave up" in listing
        assert f'value="{entry.pk}"' not in client.get(changelist, {"state": "done"}).content.decode()
        with run_on_commit():
            response = client.post(changelist, {"action": "retry_entries", "_selected_action": [entry.pk]})
        assert response.status_code == 302
    client.logout()

    entry.refresh_from_db()
    paywall_action.refresh_from_db()
    assert entry.state() == "done" and paywall_action.status == ActionStatus.REVERSED
    paywall_action.story.refresh_from_db()
    assert paywall_action.story.is_paywalled is True
    assert AuditEvent.objects.filter(verb="action.reversal_retried", target_id=str(paywall_action.pk)).count() == 1
    assert [r[0] for r in platform.requests] == ["/actions/reverse"] * 3

    with run_on_commit():
        assert jobs.check_restorations() == 1
        assert jobs.check_restorations() == 0
    assert len(restored_emails()) == 1
    page = client.get(status_url).content.decode()
    assert "delayed" not in page and "Story back behind the paywall" in page


def test_asking_again_for_a_reversal_the_outbox_gave_up_on_revives_it(run_on_commit):
    story = StoryFactory(is_paywalled=True)
    action = applied_action("paywall.remove", story=story)
    with FakePlatform([500]) as platform, http_platform(platform.url, OUTBOX_MAX_ATTEMPTS=1):
        with run_on_commit():
            dead = enforcement.request_reversal(action=action, actor=senior_moderator(), reason="wrong")
        dead.refresh_from_db()
        assert dead.state() == "gave_up"
        with run_on_commit():
            again = enforcement.request_reversal(action=action, actor=senior_moderator(), reason="try again")
    assert again.pk == dead.pk
    again.refresh_from_db()
    action.refresh_from_db()
    assert again.state() == "done" and action.status == ActionStatus.REVERSED
    assert OutboxEntry.objects.filter(action=action, operation=OutboxOperation.REVERSE).count() == 1


def test_the_completion_email_goes_once_even_when_the_check_runs_before_the_reversals(
    paywall_action, reviewer, run_on_commit, monkeypatch
):
    # The reversal jobs are lost (a worker died before taking them); the check queued
    # after them runs first and finds nothing finished.
    with monkeypatch.context() as lost:
        lost.setattr(enforcement, "enqueue", lambda *args, **kwargs: None)
        appeal = overturn(paywall_action, reviewer, run_on_commit)
    assert appeal.restored_summary.get("completed_at") is None
    status = selectors.writer_status(appeal)
    assert status.restoring and not status.delayed
    assert jobs.check_restorations() == 0

    # The drain hands the reversal to a worker; the periodic check then finishes it.
    with run_on_commit():
        assert enforcement.drain_outbox(older_than=timezone.timedelta(0)) == 1
    with run_on_commit():
        assert jobs.check_restorations() == 1
        jobs.check_restoration(appeal.pk)  # the original check arriving late changes nothing
        assert jobs.check_restorations() == 0
    assert len(restored_emails()) == 1
    assert AuditEvent.objects.filter(verb="appeal.restoration_completed", appeal_ref=appeal.pk).count() == 1


def test_a_drained_entry_a_worker_is_running_is_not_handed_to_a_second_worker():
    story = StoryFactory(is_paywalled=True)
    action = applied_action("paywall.remove", story=story)
    entry = OutboxEntry.objects.create(action=action, operation=OutboxOperation.REVERSE)
    # A worker took it ten minutes after it was written and is still on it.
    later = timezone.now() + timezone.timedelta(minutes=10)
    OutboxEntry.objects.filter(pk=entry.pk).update(
        lease_token="w1", leased_until=later + timezone.timedelta(minutes=4), attempts=1
    )
    assert enforcement.drain_outbox(now=later) == 0
    # Nor does a stray job run it twice.
    assert enforcement.reverse_action(action_id=action.pk).status == ActionStatus.APPLIED
    assert OutboxEntry.objects.get(pk=entry.pk).attempts == 1
    # Once the lease runs out (the worker died), the drain hands it out again.
    assert enforcement.drain_outbox(now=later + timezone.timedelta(minutes=5)) == 1


def test_an_entry_whose_every_run_crashed_gives_up_visibly():
    story = StoryFactory(is_paywalled=True)
    action = applied_action("paywall.remove", story=story)
    entry = OutboxEntry.objects.create(action=action, operation=OutboxOperation.REVERSE, attempts=8)
    assert enforcement.drain_outbox(now=timezone.now() + timezone.timedelta(hours=1)) == 0
    entry.refresh_from_db()
    assert entry.state() == "gave_up" and "no attempt finished" in entry.last_error
    assert AuditEvent.objects.filter(verb="action.reversal_failed").count() == 1


def test_a_batch_of_a_worker_that_lost_its_lease_is_rolled_back():
    from moderation.models import Follow
    from moderation.platform import LocalPlatformAdapter
    from tests.factories import FollowFactory

    fake = AccountFactory()
    for _ in range(3):
        FollowFactory(follower=fake)
    purge = applied_action("followers.purge", account=fake)
    entry = OutboxEntry.objects.create(action=purge, operation=OutboxOperation.REVERSE)
    progress = enforcement.OutboxProgress(entry, token="mine")
    OutboxEntry.objects.filter(pk=entry.pk).update(lease_token="someone-else")
    with pytest.raises(enforcement.LeaseLost):
        LocalPlatformAdapter().restore_follows(removed_by=purge.idempotency_key, progress=progress, batch_size=2)
    assert Follow.objects.filter(follower=fake, is_active=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_checks_at_the_same_moment_send_one_email(run_on_commit):
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL")
    from tests.factories import appeals_reviewer

    writer = AccountFactory(email="ada@example.com")
    action = applied_action("paywall.remove", story=StoryFactory(author=writer, is_paywalled=True))
    with monkeypatch_enqueue_off():
        appeal = overturn(action, appeals_reviewer(), run_on_commit)
    enforcement.reverse_action(action_id=action.pk)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def check():
        try:
            barrier.wait()
            results.append(services.record_restoration_if_finished(appeal_id=appeal.pk))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert AuditEvent.objects.filter(verb="appeal.restoration_completed", appeal_ref=appeal.pk).count() == 1
    assert len(restored_emails()) == 1


class monkeypatch_enqueue_off:  # a context manager, named like one
    """Jobs queued inside are dropped, as a lost enqueue would drop them."""

    def __enter__(self):
        self.original = enforcement.enqueue
        enforcement.enqueue = lambda *args, **kwargs: None

    def __exit__(self, *exc):
        enforcement.enqueue = self.original

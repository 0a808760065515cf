"""Writers whose follower count a purge lowered are told once: what changed, why and how
to appeal, whether or not they were flagged themselves."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from cases.models import ActionStatus, Notice, PurgeNoticeItem
from cases.notices import FOLLOWERS_REMOVED_SUBJECT, notify_writers_of_purges, read_appeal_token
from moderation.models import AuditEvent, Outcome
from tests.appeals.factories import applied_action, decision_for, purge_followers_of
from tests.factories import AccountFactory, EnforcementActionFactory, FollowFactory

pytestmark = pytest.mark.django_db


def told(account) -> list[Notice]:
    return list(Notice.objects.filter(account=account, subject=FOLLOWERS_REMOVED_SUBJECT))


def test_every_writer_a_purge_wave_lowered_is_told_once_with_the_count_why_and_how_to_appeal(run_on_commit, client):
    writer = AccountFactory(handle="ada")
    flagged = AccountFactory(handle="flagged")  # a writer with a case of their own
    applied_action(Outcome.WARNING, account=flagged)
    purge = purge_followers_of(writer, genuine=1, fake=2, extra_edges=2)  # 3 separate purge decisions
    applied_action(Outcome.WARNING, account=purge.bystander)  # a flagged writer is told as well
    for f in purge.genuine + purge.fake:
        FollowFactory(follower=f, followee=flagged, is_active=False, removed_at=timezone.now(), removed_by="x")
    with run_on_commit():
        sent = notify_writers_of_purges(settle=timedelta(0))
    bystanders = list({purge.bystander} | set(_others(purge)))
    assert {n.account for n in sent} == {writer, *bystanders}
    [notice] = told(writer)
    assert "we removed 3 followers from your account @ada" in notice.body
    assert "fake or automated" in notice.body
    assert notice.decision is None and notice.appeal_deadline is not None
    assert sorted(PurgeNoticeItem.objects.filter(notice=notice).values_list("action", "edges")) == sorted(
        (a.pk, 1) for a in purge.purge_actions.values()
    )
    # The link opens the follower appeal form for this writer, with no sign-in.
    [link] = [line for line in notice.body.splitlines() if "/appeal/notice/" in line]
    assert read_appeal_token(link.rstrip("/").split("/")[-1]) == notice.pk
    form = client.get(link.replace("http://testserver", "").replace("https://backoffice.example", ""))
    assert form.status_code == 200 and "My followers dropped" in form.content.decode()
    assert not told(flagged)  # edges it lost to something other than these purges
    for fake in purge.fake:
        assert not told(fake)
    assert sorted(m.to[0] for m in mail.outbox if m.subject == FOLLOWERS_REMOVED_SUBJECT) == sorted(
        a.email for a in [writer, *bystanders]
    )
    assert AuditEvent.objects.filter(verb="notice.followers_removed_sent").count() == len(sent)

    # Running again, or again later, tells nobody twice.
    assert notify_writers_of_purges(settle=timedelta(0)) == []
    assert notify_writers_of_purges(settle=timedelta(0), now=timezone.now() + timedelta(days=1)) == []
    assert len(told(writer)) == 1


def _others(purge):
    from moderation.models import Follow

    ids = set(
        Follow.objects.filter(follower__in=purge.genuine, is_active=False, removed_by__startswith="action-")
        .exclude(followee__in=[purge.writer, purge.bystander])
        .values_list("followee", flat=True)
    )
    from moderation.models import Account

    return list(Account.objects.filter(pk__in=ids))


def test_a_later_purge_is_a_new_notice_about_that_purge_only():
    writer = AccountFactory()
    purge_followers_of(writer, genuine=0, fake=2, extra_edges=1)
    notify_writers_of_purges(settle=timedelta(0))
    purge_followers_of(writer, genuine=0, fake=1, extra_edges=1)
    [later] = [n for n in notify_writers_of_purges(settle=timedelta(0)) if n.account_id == writer.pk]
    assert "we removed 1 follower from your account" in later.body
    assert len(told(writer)) == 2


def test_a_writer_waits_while_a_purge_touching_them_is_still_queued_or_settling():
    writer = AccountFactory()
    purge_followers_of(writer, genuine=0, fake=1, extra_edges=1)
    fake = AccountFactory(email="")
    FollowFactory(follower=fake, followee=writer)
    queued = EnforcementActionFactory(
        decision=decision_for(fake, code="engagement.ring"), account=fake, outcome=Outcome.FOLLOWERS_PURGE
    )
    assert queued.status == ActionStatus.APPROVED
    notify_writers_of_purges(settle=timedelta(0))
    assert told(writer) == []
    from tests.appeals.factories import apply

    apply(queued)
    notify_writers_of_purges(settle=timedelta(minutes=2))
    assert told(writer) == []  # just applied: still settling
    notify_writers_of_purges(settle=timedelta(minutes=2), now=timezone.now() + timedelta(minutes=3))
    [notice] = told(writer)
    assert "we removed 2 followers" in notice.body


def test_the_apply_job_of_a_purge_tells_the_writers_it_lowered(run_on_commit):
    from cases.jobs import apply_action_job
    from cases.models import OutboxEntry, OutboxOperation

    writer = AccountFactory()
    fake = AccountFactory(email="")
    FollowFactory(follower=fake, followee=writer)
    action = EnforcementActionFactory(
        decision=decision_for(fake, code="engagement.ring"), account=fake, outcome=Outcome.FOLLOWERS_PURGE
    )
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    with run_on_commit():
        apply_action_job(action.pk)
    assert len(told(writer)) == 1

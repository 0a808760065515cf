"""A senior moderator approves many decisions awaiting four eyes at once: select, review
what each will do, confirm; each approval goes through the single approval service."""

import pytest
from django.urls import reverse

from cases.models import ActionStatus, CaseStatus, Notice
from cases.services import review
from moderation.models import AuditEvent
from tests.cases.review_factories import account_case
from tests.factories import AccountFactory, FollowFactory, moderator, policy, senior_moderator

pytestmark = pytest.mark.django_db


def purge_decision(decider, *, follows=3):
    """A fake account's case decided suspend + purge: waits for a second person."""
    case = account_case(code="engagement.ring", account=AccountFactory(email=""))
    for _ in range(follows):
        FollowFactory(follower=case.account, followee=AccountFactory())
    review.claim_case(user=decider, case=case)
    return review.decide_case(
        case=case,
        user=decider,
        data=review.DecisionInput(
            is_violation=True,
            policy=policy("engagement.ring"),
            outcomes=["account.suspend", "followers.purge"],
            rationale="ring member, created in a batch",
            statement="Your account was part of an engagement ring.",
        ),
    )


def test_select_review_and_confirm_approves_each_decision_individually(client, run_on_commit):
    decider, own_senior = moderator(), senior_moderator()
    decisions = [purge_decision(decider, follows=n) for n in (2, 3, 4)]
    own = purge_decision(own_senior)
    assert all(d.needs_approval for d in decisions + [own])
    approver = senior_moderator()
    client.force_login(approver)
    page = client.get(reverse("review:approvals")).content.decode()
    assert f'id="select-{decisions[0].pk}"' in page and 'id="review-all"' in page

    picked = [decisions[0].pk, decisions[2].pk]
    review_step = client.post(reverse("review:approve_many"), {"decision": picked})
    assert review_step.status_code == 200
    html = review_step.content.decode()
    assert "Suspend account on @" in html
    assert "removes 2 follows from 2 accounts" in html and "removes 4 follows from 4 accounts" in html
    assert "removes 3 follows" not in html  # not selected
    assert all(d.actions.filter(status=ActionStatus.AWAITING_APPROVAL).count() == 2 for d in decisions)

    with run_on_commit():
        done = client.post(reverse("review:approve_many"), {"decision": picked, "confirm": "1"})
    assert done.status_code == 302
    for d in decisions:
        d.refresh_from_db()
    assert [d.approved_by for d in decisions] == [approver, None, approver]
    assert set(decisions[0].actions.values_list("status", flat=True)) == {ActionStatus.APPLIED}
    assert decisions[0].case.__class__.objects.get(pk=decisions[0].case_id).status == CaseStatus.DECIDED
    approvals = AuditEvent.objects.filter(verb="decision.approved", actor=approver)
    assert sorted(int(e.target_id) for e in approvals) == sorted(picked)  # one audit row each
    assert Notice.objects.filter(decision__in=picked, recipient_kind="writer").count() == 2


def test_own_decisions_are_refused_one_by_one_with_a_clear_message(client, run_on_commit):
    senior = senior_moderator()
    mine = purge_decision(senior)
    theirs = purge_decision(moderator())
    client.force_login(senior)
    page = client.get(reverse("review:approvals")).content.decode()
    assert f'id="select-{mine.pk}"' not in page  # nothing to tick for one's own
    preview = client.post(reverse("review:approve_many"), {"decision": [mine.pk, theirs.pk]}).content.decode()
    assert "your own: will be refused" in preview
    with run_on_commit():
        response = client.post(
            reverse("review:approve_many"), {"decision": [mine.pk, theirs.pk], "confirm": "1"}, follow=True
        )
    text = response.content.decode()
    assert f"Case #{mine.case_id}: this is your own decision; another senior moderator must approve it." in text
    assert "Approved 1 decision(s)" in text
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.approved_by is None and theirs.approved_by == senior


def test_review_all_takes_every_decision_the_senior_may_approve(client, run_on_commit):
    senior = senior_moderator()
    mine = purge_decision(senior)
    others = [purge_decision(moderator()) for _ in range(3)]
    client.force_login(senior)
    preview = client.post(reverse("review:approve_many"), {"all": "1"})
    assert [p.decision.pk for p in preview.context["previews"]] == [d.pk for d in others]
    ids = [d.pk for d in others]
    with run_on_commit():
        client.post(reverse("review:approve_many"), {"decision": ids, "confirm": "1"})
    assert all(d.__class__.objects.get(pk=d.pk).approved_by == senior for d in others)
    mine.refresh_from_db()
    assert mine.approved_by is None


def test_moderators_cannot_approve_in_bulk(client):
    decision = purge_decision(moderator())
    client.force_login(moderator())
    assert client.post(reverse("review:approve_many"), {"decision": [decision.pk], "confirm": "1"}).status_code == 403
    decision.refresh_from_db()
    assert decision.approved_by is None

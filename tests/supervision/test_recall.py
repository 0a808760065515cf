"""Detector recall: the dry run changes nothing; the real run touches exactly what it listed."""

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    ActionStatus,
    Case,
    CaseStatus,
    EnforcementAction,
    Notice,
    OutboxEntry,
    OutboxOperation,
    ReversalCause,
)
from cases.services.enforcement import apply_action
from moderation.models import AuditEvent
from supervision import selectors, services
from supervision.models import DetectorRecall, RecallStatus
from tests.factories import (
    DecisionFactory,
    EnforcementActionFactory,
    SignalFactory,
    StoryFactory,
    supervisor,
)

pytestmark = pytest.mark.django_db
BAD = ("ai-text-classifier", "9.9-bad")


def _detected_case(version, *, decided=True):
    story = StoryFactory(is_paywalled=True)
    decision = DecisionFactory(case__account=story.author, case__story=story, case__automated_origin=True)
    case = decision.case
    SignalFactory(detector=True, detector_version=version, account=story.author, story=story, case=case)
    if decided:
        Case.objects.filter(pk=case.pk).update(status=CaseStatus.DECIDED, decided_at=timezone.now())
    return decision


def _applied(decision, outcome="paywall.remove"):
    action = EnforcementActionFactory(decision=decision, outcome=outcome)
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    apply_action(action_id=action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.APPLIED
    return action


@pytest.fixture
def recall_world():
    bad = [_detected_case(BAD[1]) for _ in range(3)]
    applied = [_applied(d) for d in bad]
    proposed = EnforcementActionFactory(decision=bad[0], outcome="story.remove", status=ActionStatus.PROPOSED)
    open_case = _detected_case(BAD[1], decided=False)
    good = _detected_case("1.0")
    other = _applied(good)
    return {"bad": bad, "applied": applied, "proposed": proposed, "open_case": open_case.case, "other": other}


def _state():
    return (
        list(EnforcementAction.objects.order_by("id").values_list("id", "status", "reversal_cause")),
        list(Case.objects.order_by("id").values_list("id", "status", "assignee")),
        AuditEvent.objects.count(),
        Notice.objects.count(),
        DetectorRecall.objects.count(),
    )


def test_the_dry_run_lists_counts_by_outcome_and_changes_nothing(client, recall_world):
    before = _state()
    client.force_login(supervisor())
    response = client.get(reverse("supervision:recall_detector", args=BAD))
    assert response.status_code == 200
    assert _state() == before
    listing = response.context["listing"]
    assert listing.case_total == 4
    assert {r["status"]: r["count"] for r in listing.cases_by_status} == {"decided": 3, "open": 1}
    by_outcome = {r["outcome"]: r for r in listing.actions_by_outcome}
    assert (by_outcome["paywall.remove"]["applied"], by_outcome["paywall.remove"]["total"]) == (3, 3)
    assert (by_outcome["story.remove"]["other"], by_outcome["story.remove"]["applied"]) == (1, 0)
    assert listing.reverse_action_ids == sorted(a.pk for a in recall_world["applied"])
    assert listing.requeue_case_ids == sorted(d.case_id for d in recall_world["bad"])
    assert recall_world["other"].pk not in listing.reverse_action_ids


def plan(client, mode="reverse", selection="all", name=BAD):
    response = client.post(reverse("supervision:recall_detector", args=name), {"mode": mode, "selection": selection})
    recall = DetectorRecall.objects.get(status=RecallStatus.DRAFT)
    assert response.status_code == 302 and response.url == reverse("supervision:recall_plan", args=[recall.pk])
    return recall


def confirm(client, recall, **fields):
    page = client.get(reverse("supervision:recall_plan", args=[recall.pk]))
    data = {
        "op": "confirm",
        "reason": "Version 9.9 flags human writing; precision 12%.",
        "writer_statement": "A faulty detector flagged your story; we have undone what it caused.",
        "fingerprint": page.context["confirm"].initial["fingerprint"],
        "confirm": "on",
        **fields,
    }
    return client.post(reverse("supervision:recall_plan", args=[recall.pk]), data)


def test_the_real_run_reverses_exactly_the_listed_actions_with_notices(client, recall_world, run_on_commit):
    boss = supervisor()
    client.force_login(boss)
    listed = client.get(reverse("supervision:recall_detector", args=BAD)).context["listing"].reverse_action_ids
    before = _state()
    recall = plan(client)
    assert _state()[:2] == before[:2]  # a draft changes nothing on the platform
    with run_on_commit():
        response = confirm(client, recall)
    recall.refresh_from_db()
    assert response.status_code == 302 and response.url == reverse("supervision:recall_status", args=[recall.pk])
    assert (recall.status, recall.progress_done, recall.progress_total) == (RecallStatus.DONE, 3, 3)
    reversed_ids = list(
        EnforcementAction.objects.filter(status=ActionStatus.REVERSED).order_by("id").values_list("id", flat=True)
    )
    assert reversed_ids == listed
    assert set(EnforcementAction.objects.filter(pk__in=listed).values_list("reversal_cause", flat=True)) == {
        ReversalCause.RECALL
    }
    recall_world["other"].refresh_from_db()
    recall_world["proposed"].refresh_from_db()
    assert recall_world["other"].status == ActionStatus.APPLIED
    assert recall_world["proposed"].status == ActionStatus.PROPOSED
    assert Notice.objects.filter(subject="We reversed an action on your account").count() == 3
    started = AuditEvent.objects.get(verb="recall.started")
    assert (started.actor, started.reason, started.after["action_ids"]) == (
        boss,
        "Version 9.9 flags human writing; precision 12%.",
        listed,
    )
    assert AuditEvent.objects.filter(verb="recall.finished", target_id=str(recall.pk)).exists()
    status_page = client.get(reverse("supervision:recall_status", args=[recall.pk])).content.decode()
    assert "3 of 3 done" in status_page


def test_requeue_mode_sends_the_closed_cases_back_for_fresh_review(recall_world, run_on_commit):
    boss = supervisor()
    listing = selectors.recall_listing(name=BAD[0], version=BAD[1])
    with run_on_commit():
        recall = services.start_detector_recall(
            actor=boss,
            name=BAD[0],
            version=BAD[1],
            mode="requeue",
            reason="Re-check everything 9.9 touched.",
            fingerprint=listing.fingerprint("requeue"),
        )
    recall.refresh_from_db()
    assert recall.status == RecallStatus.DONE
    statuses = dict(Case.objects.filter(pk__in=listing.requeue_case_ids).values_list("id", "status"))
    assert set(statuses.values()) == {CaseStatus.OPEN}
    assert AuditEvent.objects.filter(verb="case.requeued_for_review").count() == 3
    assert EnforcementAction.objects.filter(status=ActionStatus.REVERSED).count() == 0


def test_a_plan_that_changed_since_it_was_shown_is_refused(client, recall_world):
    from cases.services.enforcement import request_reversal, reverse_action

    client.force_login(supervisor())
    recall = plan(client)
    fingerprint = (
        client.get(reverse("supervision:recall_plan", args=[recall.pk])).context["confirm"].initial["fingerprint"]
    )
    gone = recall_world["applied"][0]  # reversed on appeal after the plan was shown
    from django.db import transaction

    with transaction.atomic():
        request_reversal(action=gone, actor=supervisor(), reason="appeal")
    reverse_action(action_id=gone.pk)
    response = client.post(
        reverse("supervision:recall_plan", args=[recall.pk]),
        {
            "op": "confirm",
            "reason": "Faulty.",
            "writer_statement": "Sorry.",
            "fingerprint": fingerprint,
            "confirm": "on",
        },
    )
    assert response.status_code == 409
    assert "changed since your dry run" in response.content.decode()
    assert response.context["targets"].ids == sorted(a.pk for a in recall_world["applied"][1:])
    assert DetectorRecall.objects.get().status == RecallStatus.DRAFT


def test_reverse_mode_needs_a_reason_and_a_statement_for_writers(client, recall_world):
    client.force_login(supervisor())
    recall = plan(client)
    response = confirm(client, recall, reason="", writer_statement="")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Write what the writers will read in their notice." in html
    assert "This field is required." in html
    assert DetectorRecall.objects.get().status == RecallStatus.DRAFT

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
    decision = DecisionFactory(
        case__account=story.author, case__story=story, case__automated_origin=True, outcomes=["paywall.remove"]
    )
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


# --- plans that spare the fakes, pages with no cut-off, runs killed and resumed ----------------

FOLLOW = ("follow-spam-detector", "1.4.0")


@pytest.fixture
def purge_world():
    """A faulty follow-spam detector version: 2 genuine readers and 3 fake accounts
    suspended and purged, each by its own case. One genuine account was judged genuine in
    a writer's follower appeal (its case went back to review); a reviewer marked the
    detector wrong on the other. Reviewers confirmed the fakes."""
    from appeals import services as appeals_services
    from tests.appeals.factories import purge_followers_of
    from tests.factories import AccountFactory, appeals_reviewer
    from tests.supervision.factories import DetectorVerdictFactory

    writer = AccountFactory(handle="ada")
    purge = purge_followers_of(writer, genuine=2, fake=3, extra_edges=3)
    judged, marked = purge.genuine
    appeal = appeals_services.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement="These two are people from my writing class, truly.",
        contact_email=writer.email,
    )
    reviewer = appeals_reviewer()
    appeals_services.claim_next_appeal(user=reviewer)
    review = appeal.follower_reviews.get(follower=judged)
    appeals_services.decide_appeal(
        appeal=appeal,
        actor=reviewer,
        outcome="partially_overturned",
        statement="One of them is a real reader.",
        followers_to_reinstate=[review.pk],
    )
    for f in purge.genuine + purge.fake:
        decision = purge.purge_actions[f.pk].decision
        signal = decision.case.signals.get()
        DetectorVerdictFactory(decision=decision, signal=signal, was_correct=f != marked)
    return purge


def _actions_of(purge, accounts):
    return sorted(a.pk for f in accounts for a in (purge.purge_actions[f.pk], purge.suspensions[f.pk]))


def test_a_recall_of_the_disputed_only_spares_the_fakes(client, purge_world, run_on_commit):
    from moderation.models import Account, Follow

    purge = purge_world
    client.force_login(supervisor())
    recall = plan(client, selection="disputed", name=FOLLOW)
    assert sorted(recall.picked_ids) == _actions_of(purge, purge.genuine)
    page = client.get(reverse("supervision:recall_plan", args=[recall.pk])).content.decode()
    assert "4</strong> applied actions on 2 accounts will be reversed" in page
    with run_on_commit():
        assert confirm(client, recall).status_code == 302
    recall.refresh_from_db()
    assert recall.status == RecallStatus.DONE and recall.action_ids == _actions_of(purge, purge.genuine)
    genuine = {f.pk for f in purge.genuine}
    fakes = {f.pk for f in purge.fake}
    assert set(Account.objects.filter(pk__in=genuine | fakes, status="active").values_list("pk", flat=True)) == genuine
    assert not Follow.objects.filter(follower__in=genuine, is_active=False).exists()  # every genuine edge back
    assert not Follow.objects.filter(follower__in=fakes, is_active=True).exists()  # no fake edge back
    for f in purge.fake:
        assert purge.purge_actions[f.pk].__class__.objects.get(pk=purge.purge_actions[f.pk].pk).status == "applied"
    # One notice per reinstated account for this recall; none to the fakes.
    notices = Notice.objects.filter(key__startswith=f"recall-{recall.pk}-")
    assert sorted(notices.values_list("account", flat=True)) == sorted(genuine)


def test_the_dry_run_pages_through_every_case_and_action_with_no_cut_off(client, purge_world, monkeypatch):
    from supervision import recall_plans

    monkeypatch.setattr(recall_plans, "PAGE_SIZE", 2)
    client.force_login(supervisor())
    url = reverse("supervision:recall_detector", args=FOLLOW)
    seen_cases, seen_actions, number = [], [], 1
    while True:
        response = client.get(url, {"page": number})
        rows = response.context["rows"]
        seen_cases += [r.case.pk for r in rows]
        seen_actions += [a.pk for r in rows for a in r.actions]
        if not response.context["page"].has_next():
            break
        number += 1
    assert number == 3
    purge = purge_world
    assert sorted(seen_cases) == sorted(a.case_id for a in purge.purge_actions.values())
    assert sorted(seen_actions) == _actions_of(purge, purge.genuine + purge.fake)
    html = client.get(url, {"page": 1}).content.decode()
    assert "Page 1 of 3 (5 cases)" in html
    rows = {r.case.account_id: r for p in (1, 2, 3) for r in client.get(url, {"page": p}).context["rows"]}
    judged, marked = purge.genuine
    assert [r.verdict for r in rows[judged.pk].follower_reviews] == ["reinstate"]
    assert [v.was_correct for v in rows[marked.pk].verdicts] == [False]
    assert {pk for pk, r in rows.items() if r.disputed} == {judged.pk, marked.pk}


def test_a_hand_picked_plan_is_kept_across_pages_and_is_what_runs(client, purge_world, monkeypatch, run_on_commit):
    from supervision import recall_plans

    monkeypatch.setattr(recall_plans, "PAGE_SIZE", 2)
    purge = purge_world
    client.force_login(supervisor())
    recall = plan(client, selection="none", name=FOLLOW)
    url = reverse("supervision:recall_plan", args=[recall.pk])
    wanted = []
    for number in (1, 2, 3):
        rows = client.get(url, {"page": number}).context["rows"]
        shown = [a.pk for r in rows for a in r.actions]
        genuine_here = [a.pk for r in rows for a in r.actions if r.case.account in purge.genuine]
        wanted += genuine_here
        response = client.post(
            url, {"op": "pick", "page": number, "goto": number + 1, "shown": shown, "pick": genuine_here + shown[:1]}
        )
        assert response.status_code == 302 and response.url.endswith(f"?page={number + 1}")
        # Changing one's mind on the same page replaces that page's picks only.
        client.post(url, {"op": "pick", "page": number, "shown": shown, "pick": genuine_here})
    recall.refresh_from_db()
    assert sorted(recall.picked_ids) == sorted(wanted) == _actions_of(purge, purge.genuine)
    page = client.get(url, {"page": 1}).content.decode()
    for pk in recall.picked_ids:
        if f'id="pick-action-{pk}"' in page:
            assert f'id="pick-action-{pk}" aria-label="Reverse action #{pk}" checked' in page
    with run_on_commit():
        confirm(client, recall)
    assert sorted(
        EnforcementAction.objects.filter(status=ActionStatus.REVERSED).values_list("pk", flat=True)
    ) == _actions_of(purge, purge.genuine)


class WorkerKilled(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing catches it and marks the recall failed."""


def test_a_recall_killed_mid_run_resumes_to_the_same_end_state(purge_world, run_on_commit, monkeypatch):
    from datetime import timedelta

    from supervision import recall_plans

    purge = purge_world
    boss = supervisor()
    recall = services.draft_detector_recall(
        actor=boss, name=FOLLOW[0], version=FOLLOW[1], mode="reverse", selection="all"
    )
    everything = _actions_of(purge, purge.genuine + purge.fake)
    real = services._reverse_batch
    batches = []

    def killed_on_the_third_batch(recall, ids):
        batches.append(list(ids))
        result = real(recall, ids)
        if len(batches) == 3:
            raise WorkerKilled
        return result

    monkeypatch.setattr(services, "_reverse_batch", killed_on_the_third_batch)
    monkeypatch.setattr(services, "RECALL_BATCH_SIZE", 3)
    with pytest.raises(WorkerKilled), run_on_commit():
        services.confirm_detector_recall(
            recall=recall,
            actor=boss,
            reason="1.4.0 purges real readers.",
            writer_statement="We wrongly treated your account as fake; we have undone it.",
            fingerprint=recall_plans.plan_targets(recall).fingerprint,
        )
    recall.refresh_from_db()
    # Batches of 3 grow to 4 so an account's suspension and purge go together.
    assert [len(b) for b in batches] == [4, 4, 2]
    assert recall.status == RecallStatus.RUNNING and recall.progress_done == 8
    # The finished batches committed their reversal requests; their jobs died with the worker.
    assert OutboxEntry.objects.filter(action__in=everything, operation=OutboxOperation.REVERSE).count() == 8
    assert services.resume_stalled_recalls() == []  # not stalled yet
    monkeypatch.setattr(services, "_reverse_batch", real)
    later = timezone.now() + timedelta(minutes=11)
    with run_on_commit():
        assert services.resume_stalled_recalls(now=later) == [recall.pk]
    from cases.services.enforcement import drain_outbox

    with run_on_commit():
        drain_outbox(now=later)  # the outbox catches the reversal jobs the killed worker lost
    recall.refresh_from_db()
    assert (recall.status, recall.progress_done, recall.progress_total) == (RecallStatus.DONE, 10, 10)
    assert sorted(EnforcementAction.objects.filter(status="reversed").values_list("pk", flat=True)) == everything
    from moderation.models import Account, Follow

    accounts = [f.pk for f in purge.genuine + purge.fake]
    assert not Account.objects.filter(pk__in=accounts).exclude(status="active").exists()
    assert not Follow.objects.filter(follower__in=accounts, is_active=False).exists()
    # Exactly one notice per account for this recall, however the batches fell.
    keys = list(Notice.objects.filter(key__startswith=f"recall-{recall.pk}-").values_list("account", flat=True))
    assert sorted(keys) == sorted(accounts)
    assert (
        AuditEvent.objects.filter(verb="action.reversal_requested", target_id__in=[str(i) for i in everything]).count()
        == 10
    )


def test_a_failed_recall_resumes_from_the_button(client, purge_world, run_on_commit, monkeypatch):
    boss = supervisor()
    client.force_login(boss)
    recall = plan(client, name=FOLLOW)

    def broken(recall, ids):
        raise RuntimeError("platform down")

    monkeypatch.setattr(services, "_reverse_batch", broken)
    with run_on_commit():
        confirm(client, recall)
    recall.refresh_from_db()
    assert recall.status == RecallStatus.FAILED and recall.progress_done == 0
    page = client.get(reverse("supervision:recall_status", args=[recall.pk])).content.decode()
    assert "platform down" in page and 'id="resume-recall"' in page
    monkeypatch.undo()
    with run_on_commit():
        response = client.post(reverse("supervision:recall_resume", args=[recall.pk]))
    assert response.status_code == 302
    recall.refresh_from_db()
    assert recall.status == RecallStatus.DONE and recall.progress_done == recall.progress_total == 10
    assert AuditEvent.objects.filter(verb="recall.resumed", actor=boss).count() == 1
    assert client.post(reverse("supervision:recall_resume", args=[recall.pk])).status_code == 302
    assert AuditEvent.objects.filter(verb="recall.resumed").count() == 1  # a finished recall has nothing to resume


def test_a_dry_run_page_costs_the_same_queries_for_few_or_many_cases(
    client, purge_world, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from supervision import recall_plans

    client.force_login(supervisor())
    url = reverse("supervision:recall_detector", args=FOLLOW)
    counts = []
    for size in (1, 5):
        recall_plans.PAGE_SIZE, saved = size, recall_plans.PAGE_SIZE
        try:
            with CaptureQueriesContext(connection) as ctx:
                assert len(client.get(url).context["rows"]) == size
        finally:
            recall_plans.PAGE_SIZE = saved
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]

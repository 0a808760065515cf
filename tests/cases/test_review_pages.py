import pytest
from django.urls import reverse

from cases.models import ActionStatus, CaseStatus, EnforcementAction
from cases.services import review
from tests.cases.review_factories import account_case, detector_signal, story_case
from tests.factories import QueueFactory, moderator, policy, senior_moderator, supervisor

pytestmark = pytest.mark.django_db


def test_admin_home_shows_only_the_queues_the_role_may_work(client, django_assert_max_num_queries):
    QueueFactory(slug="ai-demo", name="AI demo", allowed_roles=["moderator"])
    QueueFactory(slug="seniors", name="Seniors only", allowed_roles=["senior_moderator"])
    story_case(queue=QueueFactory(slug="ai-demo"))
    client.force_login(moderator())
    client.get("/admin/")
    with django_assert_max_num_queries(25):
        response = client.get("/admin/")
    html = response.content.decode()
    assert "AI demo" in html and "Seniors only" not in html and "Review next" in html


def test_supervisors_see_no_queue_panel_to_work(client):
    QueueFactory(slug="ai-demo", allowed_roles=["moderator"])
    client.force_login(supervisor())
    assert "Review next" not in client.get("/admin/").content.decode()


def test_review_next_claims_and_the_page_decides(client, run_on_commit):
    case = story_case(code="spam.duplicate")
    signal = detector_signal(case, policy=policy("spam.duplicate"))
    user = moderator()
    client.force_login(user)
    response = client.post(reverse("review:next", args=[case.queue.slug]))
    assert response.status_code == 302 and response.url == reverse("review:case", args=[case.pk])
    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert signal.detector_name in html and "policy-catalogue" in html and case.story.title in html

    form = {
        "is_violation": "yes",
        "policy": policy("spam.duplicate").pk,
        "outcomes": ["story.remove"],
        "rationale": "Duplicate of last week's story.",
        "statement": "This story repeats one you already posted.",
        f"detector_{signal.pk}": "right",
        "hold_days": 30,
    }
    with run_on_commit():
        response = client.post(reverse("review:case", args=[case.pk]), form)
    assert response.status_code == 302
    assert response.url == reverse("review:queue", args=[case.queue.slug]) + f"?previous={case.pk}"
    case.refresh_from_db()
    assert case.status == CaseStatus.DECIDED
    assert EnforcementAction.objects.get(case=case).status == ActionStatus.APPLIED
    assert "One step back: case #" in client.get(response.url).content.decode()
    again = client.get(reverse("review:case", args=[case.pk])).content.decode()
    assert "Applied" in again


def test_bad_decision_input_is_a_400_with_field_messages_not_a_500(client):
    case = story_case()
    user = moderator()
    review.claim_case(user=user, case=case)
    client.force_login(user)
    response = client.post(
        reverse("review:case", args=[case.pk]),
        {
            "is_violation": "yes",
            "policy": policy("spam.duplicate").pk,
            "outcomes": ["account.suspend"],
            "rationale": "",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Write the internal rationale." in html and "Write the statement of reasons" in html


def test_deciding_without_the_claim_is_refused_with_a_message(client):
    case = story_case()
    client.force_login(moderator())
    response = client.post(reverse("review:case", args=[case.pk]), {"is_violation": "no", "rationale": "x"})
    assert response.status_code == 409
    assert "no longer hold" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_lease_renewal_endpoint(client):
    case = story_case()
    user = moderator()
    review.claim_case(user=user, case=case)
    client.force_login(user)
    assert client.post(reverse("review:renew", args=[case.pk])).json()["ok"] is True
    client.force_login(moderator())
    assert client.post(reverse("review:renew", args=[case.pk])).status_code == 409


def test_approvals_page_approves_and_refuses_own_decisions(client, run_on_commit):
    case = account_case(code="engagement.bulk_interactions")
    decider = senior_moderator()
    review.claim_case(user=decider, case=case)
    decision = review.decide_case(
        case=case,
        user=decider,
        data=review.DecisionInput(
            is_violation=True,
            policy=policy("engagement.bulk_interactions"),
            outcomes=["account.suspend"],
            rationale="bot",
            statement="Your account followed 4,000 accounts in an hour.",
        ),
    )
    client.force_login(decider)
    html = client.get(reverse("review:approvals")).content.decode()
    assert "Your own decision" in html
    client.post(reverse("review:approve", args=[decision.pk]))
    decision.refresh_from_db()
    assert decision.approved_by is None

    client.force_login(senior_moderator())
    with run_on_commit():
        client.post(reverse("review:approve", args=[decision.pk]))
    decision.refresh_from_db()
    assert decision.approved_by is not None
    assert decision.actions.get().status == ActionStatus.APPLIED


def test_moderators_cannot_open_the_approvals_page(client):
    client.force_login(moderator())
    assert client.get(reverse("review:approvals")).status_code == 403


def test_bulk_page_decides_selected_cases(client):
    queue = QueueFactory()
    cases = [account_case(code="engagement.bulk_interactions", queue=queue) for _ in range(3)]
    client.force_login(moderator())
    response = client.post(
        reverse("review:bulk"),
        {
            "case": [c.pk for c in cases[:2]],
            "is_violation": "yes",
            "policy": policy("engagement.bulk_interactions").pk,
            "outcomes": ["warning"],
            "rationale": "Same follow bursts.",
            "statement": "@{handle}: bulk follows break {policy_title}.",
            "detectors_correct": "right",
            "hold_days": 30,
        },
    )
    assert response.status_code == 302
    statuses = [c.__class__.objects.get(pk=c.pk).status for c in cases]
    assert statuses == [CaseStatus.DECIDED, CaseStatus.DECIDED, CaseStatus.OPEN]


def test_admin_retry_action_on_failed_actions(client, run_on_commit):
    from tests.factories import EnforcementActionFactory

    action = EnforcementActionFactory(status=ActionStatus.APPROVED, outcome="warning")
    EnforcementAction.objects.filter(pk=action.pk).update(status=ActionStatus.FAILED, last_error="HTTP 500")
    from cases.models import OutboxEntry

    OutboxEntry.objects.create(action=action, operation="apply", gave_up_at=action.created_at)
    client.force_login(senior_moderator())
    changelist = reverse("admin:cases_enforcementaction_changelist")
    assert client.get(changelist).status_code == 200
    with run_on_commit():
        client.post(changelist, {"action": "retry_failed", "_selected_action": [action.pk]})
    action.refresh_from_db()
    assert action.status == ActionStatus.APPLIED


def test_every_error_comes_at_once_each_on_its_own_field(client):
    case = story_case(code="spam.duplicate")
    signal = detector_signal(case, policy=policy("spam.duplicate"))
    user = moderator()
    review.claim_case(user=user, case=case)
    client.force_login(user)
    response = client.post(
        reverse("review:case", args=[case.pk]),
        {
            "is_violation": "yes",
            "policy": policy("spam.duplicate").pk,
            "outcomes": [],
            "statement": "",
            "rationale": "",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["rationale"] == ["Write the internal rationale."]
    assert errors[f"detector_{signal.pk}"] == ["Mark this detector right or wrong."]
    assert "outcomes" in errors and "statement" in errors
    assert "This field is required." not in response.content.decode()
    html = response.content.decode()
    assert html.index('id="rationale-error"') > html.index('id="detector-marks"')
    assert html.index('id="rationale-error"') > html.index('for="id_rationale"')


def test_a_missing_verdict_is_named_with_the_other_missing_pieces(client):
    case = story_case(code="spam.duplicate")
    detector_signal(case, policy=policy("spam.duplicate"))
    user = moderator()
    review.claim_case(user=user, case=case)
    client.force_login(user)
    response = client.post(reverse("review:case", args=[case.pk]), {})
    errors = response.context["form"].errors
    assert errors["is_violation"] == ["Choose violation or no violation."]
    assert "rationale" in errors and any(k.startswith("detector_") for k in errors)


def test_after_a_decision_the_next_case_of_the_queue_is_claimed_and_opened(client, run_on_commit):
    queue = QueueFactory(slug="spam-q")
    first = story_case(code="spam.duplicate", queue=queue, priority=10)
    second = story_case(code="spam.duplicate", queue=queue)
    user = moderator()
    review.claim_case(user=user, case=first)
    client.force_login(user)
    with run_on_commit():
        response = client.post(reverse("review:case", args=[first.pk]), {"is_violation": "no", "rationale": "Fine."})
    assert response.url == reverse("review:case", args=[second.pk]) + f"?previous={first.pk}"
    second.refresh_from_db()
    assert second.assignee == user and second.status == CaseStatus.IN_REVIEW
    html = client.get(response.url).content.decode()
    assert f"One step back: case #{first.pk}" in html


def test_canned_rationales_of_the_policy_are_offered_on_the_page(client):
    from cases.models import CannedRationale

    CannedRationale.objects.create(policy_code="spam.duplicate", title="Repost", text="Reposted to regain reach.")
    CannedRationale.objects.create(policy_code="spam.duplicate", title="Old", text="x", active=False)
    case = story_case(code="spam.duplicate")
    user = moderator()
    review.claim_case(user=user, case=case)
    client.force_login(user)
    canned = client.get(reverse("review:case", args=[case.pk])).context["canned"]
    texts = [c["text"] for c in canned[str(policy("spam.duplicate").pk)]]
    assert "Reposted to regain reach." in texts and "x" not in texts

"""The trust-boundary story, end to end (issue 17), as the platform, a detector, an
attacker holding the detector's key, a moderator, an appeals reviewer and a senior
would play it, on PostgreSQL with a real RQ worker.

A detector flags a Partner Program writer's paywalled story and, in the same signal,
tries to rewrite her email, her Partner Program status and her follower count. Nothing
of that sticks: the attacker's address never receives her appeal link, four eyes still
sees a Partner Program member, staff tools stay locked to their roles, the database
refuses actions the decision did not choose, and the platform's own later update is
the only thing that changes her facts.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from rest_framework.test import APIClient

from cases.models import ActionStatus, Case, Decision, EnforcementAction, Queue, RoutingRule
from cases.services import review
from cases.services.intake import create_api_client
from cases.strikes import Strike
from moderation.models import Account, AccountStatus, AuditEvent, PartnerStatus, Policy, Story
from moderation.roles import Role
from tests.factories import appeals_reviewer, moderator, senior_moderator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ATTACKER = "attacker@evil.example"


def _api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _staff(user) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def _state(account: Account) -> dict:
    account.refresh_from_db()
    return {
        "email": account.email,
        "status": account.status,
        "partner_status": account.partner_status,
        "follower_count": account.follower_count,
        "facts_pending": account.facts_pending,
    }


def test_a_detector_key_cannot_rewrite_a_writer_or_skip_four_eyes(worker):
    # The platform's own client mirrors two writers and Ada's paywalled story.
    _, platform_key = create_api_client(name="platform-web", scopes=["platform"])
    _, detector_key = create_api_client(name="ai-text-classifier", allowed_sources=["detector"], scopes=["signals"])
    platform, detector = _api(platform_key), _api(detector_key)
    answer = platform.post(
        "/api/v1/platform/accounts/",
        [
            {
                "platform_id": "u-ada",
                "sequence": 10,
                "handle": "ada",
                "email": "ada@writers.example",
                "partner_status": "active",
                "partner_enrolled_at": "2025-01-10T00:00:00Z",
                "follower_count": 5200,
            },
            {"platform_id": "u-bob", "sequence": 10, "handle": "bob", "email": "bob@writers.example"},
        ],
        format="json",
    )
    assert answer.status_code == 201, answer.content
    answer = platform.post(
        "/api/v1/platform/stories/",
        {"platform_id": "s-1", "sequence": 10, "author": "u-ada", "title": "Ten rivers", "paywalled": True},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    ada, bob = Account.objects.get(handle="ada"), Account.objects.get(handle="bob")
    bob_before = _state(bob)

    # Staff: the AI queue is (wrongly) opened to appeals reviewers too.
    queue = Queue.objects.create(
        slug="ai-e2e", name="AI e2e", allowed_roles=[Role.MODERATOR, Role.SENIOR_MODERATOR, Role.APPEALS_REVIEWER]
    )
    RoutingRule.objects.create(queue=queue, position=0, policy_family="ai")
    mod, senior, appeals = moderator(username="mo"), senior_moderator(username="sen"), appeals_reviewer(username="ap")

    # 1. The detector flags the story and tries to rewrite Ada's facts in the same signal.
    answer = detector.post(
        "/api/v1/signals/",
        {
            "idempotency_key": "det-1",
            "source": "detector",
            "account": "u-ada",
            "story": "s-1",
            "policy": "ai.paywalled_generated",
            "detector": {"name": "ai-text-classifier", "version": "2.4.0"},
            "score": 0.97,
            "proposed_outcomes": ["paywall.remove"],
            "account_data": {"handle": "ada", "email": ATTACKER, "partner_status": "not_enrolled", "follower_count": 0},
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    item = answer.json()["results"][0]
    assert item["warnings"], "the ignored facts are reported back to the client"
    assert _state(ada) == {
        "email": "ada@writers.example",
        "status": AccountStatus.ACTIVE,
        "partner_status": PartnerStatus.ACTIVE,
        "follower_count": 5200,
        "facts_pending": False,
    }
    assert AuditEvent.objects.filter(verb="account.facts_ignored", target_id=str(ada.pk)).exists()
    # The detector's key is not the platform's: the mirror refuses it.
    assert detector.post("/api/v1/platform/accounts/", {"platform_id": "u-ada"}, format="json").status_code == 403

    # 2. The attacker asks for Ada's appeal link with his own address: nothing reaches him.
    writer_page = Client(enforce_csrf_checks=False)
    assert writer_page.post("/appeal/", {"handle": "ada", "email": ATTACKER}).status_code == 200
    worker.drain()
    assert not [m for m in worker.mails() if ATTACKER in m["To"]]

    # 3. Staff tools stay with their roles: a moderator cannot read or empty the job queues
    #    (whose arguments could carry writers' data); an appeals reviewer cannot review cases.
    as_mod = _staff(mod)
    assert as_mod.get("/admin/django-rq/").status_code in (302, 403)
    assert as_mod.post("/admin/django-rq/queues/0/empty/").status_code in (302, 403, 404)
    case = Case.objects.get(account=ada)
    with pytest.raises(Exception):  # noqa: B017 - whichever refusal the claim service raises
        review.claim_case(user=appeals, case=case)
    case.refresh_from_db()
    assert case.assignee is None

    # 4. The moderator removes the paywall: Ada is a Partner Program member (confirmed by the
    #    platform, not by the detector's claim), so a senior must approve before anything applies.
    review.claim_case(user=mod, case=case)
    policy = Policy.objects.current().get(code="ai.paywalled_generated")
    signal = case.signals.get()
    decision = review.decide_case(
        case=case,
        user=mod,
        data=review.DecisionInput(
            is_violation=True,
            policy=policy,
            outcomes=["paywall.remove"],
            rationale="Detector and the text agree: generated, behind the paywall.",
            statement="Your story is AI-generated and was behind the paywall.",
            detector_marks={signal.pk: True},
        ),
    )
    assert decision.needs_approval
    worker.drain()
    assert Story.objects.get(platform_id="s-1").is_paywalled, "nothing applies before the second person"

    # 5. Going around the services: an action the decision never chose, and a decision that
    #    claims to need no approval, are both refused by the database itself.
    with pytest.raises(DatabaseError), transaction.atomic():
        EnforcementAction.objects.create(
            case=case, decision=decision, outcome="account.suspend", account=ada, status=ActionStatus.APPROVED
        )
    with pytest.raises(DatabaseError), transaction.atomic():
        sneaky = Decision.objects.create(
            case=case,
            decided_by=mod,
            is_violation=True,
            policy=policy,
            outcomes=["account.suspend"],
            rationale="-",
            needs_approval=False,
            decided_at=decision.decided_at,
        )
        EnforcementAction.objects.create(
            case=case, decision=sneaky, outcome="account.suspend", account=ada, status=ActionStatus.APPROVED
        )

    # 6. The senior approves; the worker applies; Ada (at her real address) is told why.
    review.approve_decision(decision=decision, approver=senior)
    worker.drain()
    assert not Story.objects.get(platform_id="s-1").is_paywalled
    action = EnforcementAction.objects.get(decision=decision)
    assert action.status == ActionStatus.APPLIED
    mails = worker.mails()
    assert any("ada@writers.example" in m["To"] for m in mails)
    assert not [m for m in mails if ATTACKER in m["To"]]
    # Her letter cites the story and tells her standing: the strike the decision recorded.
    letter = next(m for m in mails if "ada@writers.example" in m["To"])
    text = (letter.get_payload(0) if letter.is_multipart() else letter).get_payload(decode=True).decode()
    live = Strike.objects.filter(account=ada, voided_at__isnull=True)
    assert live.count() == 1 and live.get().decision_id == decision.pk
    assert "1 live strike" in text and Story.objects.get(platform_id="s-1").title in text
    assert not Strike.objects.exclude(account=ada).exists(), "no other account took a strike"

    # 7. Only the platform changes facts, newest first: a new email at sequence 11 sticks,
    #    a late update from sequence 9 changes nothing.
    platform.post(
        "/api/v1/platform/accounts/",
        {"platform_id": "u-ada", "sequence": 11, "email": "ada@new.example"},
        format="json",
    )
    late = platform.post(
        "/api/v1/platform/accounts/",
        {"platform_id": "u-ada", "sequence": 9, "email": "old@writers.example", "partner_status": "revoked"},
        format="json",
    )
    assert late.json()["results"][0]["status"] == "stale"

    # The end state of every account the story touched.
    assert _state(ada) == {
        "email": "ada@new.example",
        "status": AccountStatus.ACTIVE,
        "partner_status": PartnerStatus.ACTIVE,
        "follower_count": 5200,
        "facts_pending": False,
    }
    assert _state(bob) == bob_before
    assert not EnforcementAction.objects.filter(account=bob).exists()
    assert not EnforcementAction.objects.filter(outcome="account.suspend").exists()
    assert AuditEvent.objects.filter(verb="account.facts_changed", target_id=str(ada.pk)).count() >= 1

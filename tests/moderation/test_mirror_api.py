"""The platform mirror API: only the platform's own client states facts; bulk,
idempotent, ordered by the platform's sequence, every change of a fact that matters
audited with before and after."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases.services.intake import create_api_client
from moderation.audit import verify_chain
from moderation.models import (
    Account,
    AuditEvent,
    EngagementEvent,
    Follow,
    PartnerStatus,
    SignalSource,
    Story,
)
from moderation.personal_data import reveal, reveal_all
from moderation.platform import LocalPlatformAdapter, NullProgress, PlatformCommand
from tests.factories import AccountFactory, StoryFactory, moderator

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/platform/accounts/"
STORIES = "/api/v1/platform/stories/"
FOLLOWS = "/api/v1/platform/follows/"
ENGAGEMENT = "/api/v1/platform/engagement/"


def api(key=None):
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def platform():
    client, key = create_api_client(name="platform-mirror", scopes=["platform"])
    return api(key)


@pytest.fixture
def writer():
    return AccountFactory(platform_id="w-1", handle="ada", email="ada@example.com", partner=True, follower_count=5200)


def facts_changed(account):
    return AuditEvent.objects.filter(verb="account.facts_changed", target_id=str(account.pk)).order_by("id")


# --- who may call it ------------------------------------------------------------------


@pytest.mark.parametrize("url", [ACCOUNTS, STORIES, FOLLOWS, ENGAGEMENT])
def test_detector_and_reader_facing_clients_and_staff_are_refused(client, url, writer):
    _, detector_key = create_api_client(name="ai-detector", allowed_sources=[SignalSource.DETECTOR])
    _, web_key = create_api_client(
        name="platform-web", allowed_sources=[SignalSource.READER_REPORT, SignalSource.SHOW_LESS]
    )
    body = [{"platform_id": "w-1", "sequence": 9, "email": "attacker@evil.example"}]
    assert api(detector_key).post(url, body, format="json").status_code == 403
    assert api(web_key).post(url, body, format="json").status_code == 403
    assert api().post(url, body, format="json").status_code == 401
    client.force_login(moderator())
    assert client.post(url, body, content_type="application/json").status_code == 403
    writer.refresh_from_db()
    assert writer.email == "ada@example.com" and not AuditEvent.objects.filter(verb="platform.mirrored").exists()


def test_a_platform_only_client_sends_no_signals_and_reads_no_cases(platform, writer):
    signal = {"idempotency_key": "k1", "source": "detector", "account": "w-1", "policy": "ai.paywalled_generated"}
    assert platform.post("/api/v1/signals/", signal, format="json").status_code == 403
    assert platform.get("/api/v1/cases/").status_code == 403


# --- accounts ---------------------------------------------------------------------------


def test_the_platform_updates_an_account_and_each_fact_change_is_audited_with_before_and_after(platform, writer):
    response = platform.post(
        ACCOUNTS,
        [
            {
                "platform_id": "w-1",
                "sequence": 100,
                "email": "ada@newmail.example",
                "partner_status": "revoked",
                "partner_revoked_at": "2026-11-01T10:00:00Z",
                "follower_count": 5100,
                "display_name": "Ada L.",
            }
        ],
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["results"] == [{"index": 0, "id": "w-1", "status": "updated"}]
    writer.refresh_from_db()
    assert writer.email == "ada@newmail.example" and writer.partner_status == PartnerStatus.REVOKED
    assert writer.follower_count == 5100 and writer.display_name == "Ada L." and writer.facts_version == 100
    [event] = facts_changed(writer)
    assert reveal_all(event.before) == {
        "email": "ada@example.com",
        "partner_status": "active",
        "partner_revoked_at": None,
        "follower_count": 5200,
    }
    assert reveal(event.after["email"]) == "ada@newmail.example" and event.after["follower_count"] == 5100
    assert "ada@" not in json.dumps(event.before) + json.dumps(event.after), "emails are sealed in the audit row"
    assert event.after["partner_status"] == "revoked" and event.after["sequence"] == 100
    assert event.actor_label == "api-client:platform-mirror"
    summary = AuditEvent.objects.get(verb="platform.mirrored")
    assert summary.after["resource"] == "accounts" and summary.after["updated"] == 1
    assert verify_chain().ok


def test_an_older_update_arriving_after_a_newer_one_changes_nothing(platform, writer):
    platform.post(ACCOUNTS, [{"platform_id": "w-1", "sequence": 200, "email": "new@example.com"}], format="json")
    audit_rows = AuditEvent.objects.count()
    late = platform.post(
        ACCOUNTS,
        [{"platform_id": "w-1", "sequence": 150, "email": "old@example.com", "follower_count": 1}],
        format="json",
    )
    assert late.status_code == 200
    assert late.json()["stale"] == 1 and late.json()["results"][0]["status"] == "stale"
    writer.refresh_from_db()
    assert writer.email == "new@example.com" and writer.follower_count == 5200 and writer.facts_version == 200
    assert AuditEvent.objects.count() == audit_rows


def test_within_one_batch_the_newest_sequence_wins_whatever_the_order(platform, writer):
    response = platform.post(
        ACCOUNTS,
        [
            {"platform_id": "w-1", "sequence": 30, "follower_count": 30},
            {"platform_id": "w-1", "sequence": 10, "follower_count": 10},
            {"platform_id": "w-1", "sequence": 20, "follower_count": 20},
        ],
        format="json",
    )
    assert [r["status"] for r in response.json()["results"]] == ["updated", "stale", "stale"]
    writer.refresh_from_db()
    assert writer.follower_count == 30


def test_the_same_batch_twice_is_idempotent(platform, writer):
    batch = [
        {"platform_id": "w-1", "sequence": 7, "follower_count": 6000},
        {"platform_id": "w-2", "sequence": 3, "handle": "grace", "email": "grace@example.com"},
    ]
    first = platform.post(ACCOUNTS, batch, format="json")
    assert first.status_code == 201 and first.json()["updated"] == 1 and first.json()["created"] == 1
    snapshot = list(Account.objects.order_by("id").values())
    audit_rows = AuditEvent.objects.count()

    again = platform.post(ACCOUNTS, batch, format="json")
    assert again.status_code == 200 and again.json()["unchanged"] == 2
    assert list(Account.objects.order_by("id").values()) == snapshot
    assert AuditEvent.objects.count() == audit_rows


def test_a_platform_update_confirms_facts_a_signal_left_pending(platform):
    pending = AccountFactory(platform_id="w-9", handle="newbie", email="claimed@example.com", facts_pending=True)
    platform.post(ACCOUNTS, [{"platform_id": "w-9", "sequence": 1, "email": "real@example.com"}], format="json")
    pending.refresh_from_db()
    assert not pending.facts_pending and pending.email == "real@example.com"
    [event] = facts_changed(pending)
    assert reveal_all(event.before) == {"email": "claimed@example.com", "facts_pending": True}
    assert event.after["facts_pending"] is False


def test_a_new_partner_gets_an_enrolment_date(platform):
    platform.post(
        ACCOUNTS, [{"platform_id": "p-1", "sequence": 1, "handle": "pp", "partner_status": "active"}], format="json"
    )
    account = Account.objects.get(platform_id="p-1")
    assert account.is_partner and account.partner_enrolled_at is not None and not account.facts_pending


# --- stories ----------------------------------------------------------------------------


def test_paywall_and_distribution_changes_are_audited_and_ordered(platform, writer):
    story = StoryFactory(platform_id="s-1", author=writer, is_paywalled=True)
    response = platform.post(
        STORIES,
        [{"platform_id": "s-1", "sequence": 5, "paywalled": False, "distribution": "network_only", "title": "T"}],
        format="json",
    )
    assert response.status_code == 201
    story.refresh_from_db()
    assert not story.is_paywalled and story.distribution == "network_only"
    event = AuditEvent.objects.get(verb="story.facts_changed", target_id=str(story.pk))
    assert event.before == {"is_paywalled": True, "distribution": "general"}
    assert event.after == {"is_paywalled": False, "distribution": "network_only", "sequence": 5}

    platform.post(STORIES, [{"platform_id": "s-1", "sequence": 4, "paywalled": True}], format="json")
    story.refresh_from_db()
    assert not story.is_paywalled


def test_new_stories_need_a_known_author(platform, writer):
    ok = platform.post(STORIES, [{"platform_id": "s-2", "sequence": 1, "author": "w-1", "title": "Hi"}], format="json")
    assert ok.status_code == 201 and Story.objects.get(platform_id="s-2").author == writer
    bad = platform.post(STORIES, [{"platform_id": "s-3", "sequence": 1, "author": "nobody"}], format="json")
    assert bad.status_code == 400 and "Unknown account" in bad.json()["0"]["author"][0]


# --- follows ----------------------------------------------------------------------------


def _purge(fake, key="action-77"):
    adapter = LocalPlatformAdapter()
    adapter.purge_follows(PlatformCommand("followers.purge", fake.pk, None, key), progress=NullProgress())
    return adapter


def test_an_unfollow_of_a_purged_edge_is_remembered_and_the_purge_reversal_leaves_it(platform, writer):
    fake, other = AccountFactory(platform_id="f-1"), AccountFactory(platform_id="w-2")
    now = timezone.now()
    kept = Follow.objects.create(follower=fake, followee=other, created_at=now - timedelta(days=9))
    left = Follow.objects.create(follower=fake, followee=writer, created_at=now - timedelta(days=9))
    adapter = _purge(fake)

    response = platform.post(
        FOLLOWS,
        [{"follower": "f-1", "followee": "w-1", "action": "unfollow", "sequence": 40, "occurred_at": now.isoformat()}],
        format="json",
    )
    assert response.status_code == 201 and response.json()["results"][0]["status"] == "updated"
    assert adapter.restore_follows(removed_by="action-77") == 1
    kept.refresh_from_db()
    left.refresh_from_db()
    assert kept.is_active
    assert not left.is_active and left.unfollowed_at is not None

    platform.post(
        FOLLOWS,
        [{"follower": "f-1", "followee": "w-1", "action": "follow", "sequence": 41, "occurred_at": now.isoformat()}],
        format="json",
    )
    left.refresh_from_db()
    assert left.is_active and left.unfollowed_at is None and left.removed_by == ""


def test_follow_edges_are_created_and_ordered_by_sequence(platform, writer):
    AccountFactory(platform_id="r-1")
    at = timezone.now().isoformat()

    def send(action, sequence):
        item = {"follower": "r-1", "followee": "w-1", "action": action, "sequence": sequence, "occurred_at": at}
        return platform.post(FOLLOWS, [item], format="json").json()["results"][0]["status"]

    assert send("follow", 10) == "created"
    assert send("unfollow", 12) == "updated"
    assert send("follow", 11) == "stale"
    edge = Follow.objects.get(follower__platform_id="r-1", followee=writer)
    assert not edge.is_active and edge.facts_version == 12
    assert send("unfollow", 12) == "unchanged"


# --- engagement -------------------------------------------------------------------------


def test_engagement_events_are_stored_once_and_never_change(platform, writer):
    StoryFactory(platform_id="s-1", author=writer)
    AccountFactory(platform_id="r-1")
    at = timezone.now().isoformat()
    batch = [
        {"id": "e-1", "kind": "clap", "actor": "r-1", "story": "s-1", "count": 12, "occurred_at": at, "sequence": 1},
        {"id": "e-2", "kind": "read", "actor": "r-1", "story": "s-1", "occurred_at": at, "sequence": 2},
        {"id": "e-3", "kind": "response", "actor": "r-1", "target": "w-1", "occurred_at": at, "sequence": 3},
    ]
    assert platform.post(ENGAGEMENT, batch, format="json").json()["created"] == 3
    again = platform.post(ENGAGEMENT, batch, format="json")
    assert again.status_code == 200 and again.json()["duplicate"] == 3
    assert EngagementEvent.objects.count() == 3
    clap = EngagementEvent.objects.get(platform_id="e-1")
    assert clap.target == writer and clap.count == 12 and clap.actor.platform_id == "r-1"
    with pytest.raises(ValueError):
        clap.save()
    with pytest.raises(ValueError):
        clap.delete()


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "where", "words"),
    [
        (ACCOUNTS, {"platform_id": "w-1"}, "sequence", "required"),
        (ACCOUNTS, [{"platform_id": "w-1", "sequence": -1}], "sequence", "greater than or equal to 0"),
        (ACCOUNTS, [{"platform_id": "w-1", "sequence": 1, "email": "nope"}], "email", "valid email"),
        (ACCOUNTS, [{"platform_id": "w-1", "sequence": 1, "follower_count": -3}], "follower_count", "greater"),
        (ACCOUNTS, [{"platform_id": "w-1", "sequence": 1, "status": "banished"}], "status", "not a valid choice"),
        (ACCOUNTS, [{"platform_id": "zz", "sequence": 1}], "handle", "Required to create"),
        (ACCOUNTS, [{"platform_id": "zz", "sequence": 1, "handle": "ada"}], "handle", "belongs to another"),
        (ACCOUNTS, ["just a string"], "non_field_errors", "Invalid data"),
        (STORIES, [{"platform_id": "s", "sequence": 1, "kind": "response", "paywalled": True}], "paywalled", "never"),
        (FOLLOWS, [{"follower": "w-1", "followee": "w-1", "action": "follow", "sequence": 1}], "occurred_at", "req"),
        (
            FOLLOWS,
            [
                {
                    "follower": "w-1",
                    "followee": "x",
                    "action": "follow",
                    "sequence": 1,
                    "occurred_at": "2026-01-01T00:00Z",
                }
            ],
            "followee",
            "Unknown account",
        ),
        (
            ENGAGEMENT,
            [{"id": "e", "kind": "read", "actor": "w-1", "occurred_at": "2026-01-01T00:00Z", "sequence": 1}],
            "story",
            "Name the story",
        ),
    ],
)
def test_bad_input_gets_field_messages_never_a_500(platform, writer, url, body, where, words):
    response = platform.post(url, body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["0"]
    assert words in " ".join(errors[where])


@pytest.mark.parametrize("body", ["not json at all", "[1, 2", "{}", "[]", "null", "42"])
def test_malformed_bodies_get_400(platform, body):
    response = platform.post(ACCOUNTS, body, content_type="application/json")
    assert response.status_code == 400


def test_more_than_ten_thousand_items_are_refused(platform):
    body = [{"platform_id": f"a{i}", "sequence": 1, "handle": f"h{i}"} for i in range(10_001)]
    response = platform.post(ACCOUNTS, body, format="json")
    assert response.status_code == 400 and "10000" in str(response.json())
    assert not Account.objects.filter(platform_id="a0").exists()


# --- bulk -------------------------------------------------------------------------------


def test_ten_thousand_accounts_in_one_request_then_ten_thousand_updates(platform, django_assert_max_num_queries):
    created = [
        {"platform_id": f"b{i}", "sequence": 1, "handle": f"bulk{i}", "email": f"b{i}@example.com", "follower_count": i}
        for i in range(10_000)
    ]
    # Set-based: a few statements per few hundred rows (SQLite caps a statement at 999
    # parameters, so its inserts come in smaller batches), never one per item.
    started = time.perf_counter()
    with django_assert_max_num_queries(250):
        response = platform.post(ACCOUNTS, created, format="json")
    create_seconds = time.perf_counter() - started
    assert response.status_code == 201 and response.json()["created"] == 10_000

    updated = [{"platform_id": f"b{i}", "sequence": 2, "follower_count": i + 1} for i in range(10_000)]
    started = time.perf_counter()
    with django_assert_max_num_queries(250):
        response = platform.post(ACCOUNTS, updated, format="json")
    update_seconds = time.perf_counter() - started
    assert response.status_code == 201 and response.json()["updated"] == 10_000
    assert Account.objects.get(platform_id="b9999").follower_count == 10_000
    assert AuditEvent.objects.filter(verb="account.facts_changed").count() == 10_000
    assert verify_chain().ok
    print(f"\n10,000 accounts: created in {create_seconds:.2f} s, updated (audited) in {update_seconds:.2f} s")

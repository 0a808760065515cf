import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from moderation.models import Account, AccountStatus, Distribution, EarningsHold, Follow, PartnerStatus
from moderation.platform import (
    HttpPlatformAdapter,
    LocalPlatformAdapter,
    NullProgress,
    PlatformCommand,
    PlatformError,
)
from tests.factories import AccountFactory, FollowFactory, StoryFactory

pytestmark = pytest.mark.django_db


def cmd(outcome, account, story=None, key="action-1", **params):
    return PlatformCommand(outcome, account.pk, story.pk if story else None, key, params)


@pytest.mark.parametrize(
    ("outcome", "field", "before", "after"),
    [
        ("distribution.network_only", "distribution", Distribution.GENERAL, Distribution.NETWORK_ONLY),
        ("distribution.no_boost", "distribution", Distribution.GENERAL, Distribution.NO_BOOST),
        ("paywall.remove", "is_paywalled", True, False),
        ("story.remove", "is_removed", False, True),
    ],
)
def test_story_outcomes_change_the_mirror_and_reverse_exactly(outcome, field, before, after):
    adapter = LocalPlatformAdapter()
    story = StoryFactory(is_paywalled=True)
    effect = adapter.apply(cmd(outcome, story.author, story))
    story.refresh_from_db()
    assert getattr(story, field) == after
    assert effect["story"] == {"id": story.pk, "field": field, "before": before, "after": after, "baseline": before}
    adapter.reverse(cmd(outcome, story.author, story), effect)
    story.refresh_from_db()
    assert getattr(story, field) == before
    assert Account.objects.filter(pk=story.author_id).exists()  # nothing deleted


def test_suspension_and_partner_revocation_restore_status_and_enrolment_date():
    adapter = LocalPlatformAdapter()
    account = AccountFactory(partner=True)
    enrolled = account.partner_enrolled_at
    suspend = adapter.apply(cmd("account.suspend", account))
    revoke = adapter.apply(cmd("partner.revoke", account, key="action-2"))
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    assert account.partner_status == PartnerStatus.REVOKED and account.partner_revoked_at

    adapter.reverse(cmd("partner.revoke", account, key="action-2"), revoke)
    adapter.reverse(cmd("account.suspend", account), suspend)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert account.partner_status == PartnerStatus.ACTIVE
    assert account.partner_enrolled_at == enrolled and account.partner_revoked_at is None


def test_restricting_a_suspended_account_never_softens_it():
    account = AccountFactory(status=AccountStatus.SUSPENDED)
    effect = LocalPlatformAdapter().apply(cmd("account.restrict", account))
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    assert effect["account_status"]["before"] == effect["account_status"]["after"] == "suspended"


def test_earnings_hold_is_dated_once_per_action_and_released_on_reversal():
    adapter = LocalPlatformAdapter()
    account = AccountFactory(partner=True)
    effect = adapter.apply(cmd("partner.earnings_hold", account, days=14))
    again = adapter.apply(cmd("partner.earnings_hold", account, days=14))
    assert effect == again
    hold = EarningsHold.objects.get()
    assert (hold.ends_at - hold.starts_at).days == 14
    adapter.reverse(cmd("partner.earnings_hold", account), effect)
    hold.refresh_from_db()
    assert hold.released_at is not None


class Sink(NullProgress):
    """Progress that can crash after N batches, as a killed worker would."""

    def __init__(self, crash_after=None):
        super().__init__()
        self.crash_after = crash_after
        self.batches = 0

    def advance(self, *, done, cursor):
        super().advance(done=done, cursor=cursor)
        self.batches += 1
        if self.crash_after is not None and self.batches >= self.crash_after:
            raise RuntimeError("worker killed")


def _fake_with_follows(n):
    fake = AccountFactory(handle="user99x1", email="")
    targets = [AccountFactory(follower_count=10) for _ in range(n)]
    for t in targets:
        FollowFactory(follower=fake, followee=t)
    return fake, targets


def test_purge_runs_in_batches_resumes_after_a_crash_and_never_double_counts():
    adapter = LocalPlatformAdapter()
    fake, targets = _fake_with_follows(7)
    command = cmd("followers.purge", fake, key="action-9")
    sink = Sink(crash_after=2)

    with pytest.raises(RuntimeError):
        adapter.purge_follows(command, progress=sink, batch_size=3)
    # The crashed batch rolled back with its cursor: two batches (6 edges) done.
    assert Follow.objects.filter(is_active=False).count() == 3
    assert sink.cursor  # the committed cursor survives in a real sink; here: resume from the last good one

    resumed = Sink()
    resumed.cursor = Follow.objects.filter(is_active=False).order_by("-id").values_list("id", flat=True)[0]
    effect = adapter.purge_follows(command, progress=resumed, batch_size=3)

    assert effect["purged_edges"] == 7
    assert Follow.objects.filter(is_active=True).count() == 0
    assert set(Follow.objects.values_list("removed_by", flat=True)) == {"action-9"}
    assert {a.follower_count for a in Account.objects.filter(pk__in=[t.pk for t in targets])} == {9}

    # Running it once more changes nothing.
    adapter.purge_follows(command, progress=NullProgress(), batch_size=3)
    assert {a.follower_count for a in Account.objects.filter(pk__in=[t.pk for t in targets])} == {9}

    restored = adapter.restore_follows(removed_by="action-9", progress=NullProgress(), batch_size=2)
    assert restored == 7
    assert Follow.objects.filter(is_active=True, removed_by="", removed_at__isnull=True).count() == 7
    assert {a.follower_count for a in Account.objects.filter(pk__in=[t.pk for t in targets])} == {10}
    assert adapter.restore_follows(removed_by="action-9") == 0


def test_restore_follows_can_reinstate_only_some_followees():
    adapter = LocalPlatformAdapter()
    fake, targets = _fake_with_follows(3)
    adapter.apply(cmd("followers.purge", fake, key="action-5"))
    assert adapter.restore_follows(removed_by="action-5", followee_ids=[targets[0].pk]) == 1
    assert Follow.objects.filter(is_active=True).get().followee == targets[0]


# The HTTP adapter against a real local server ---------------------------------


class FakePlatform:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                platform.requests.append((self.path, self.headers["Idempotency-Key"], body))
                status = platform.statuses.pop(0) if platform.statuses else 200
                payload = json.dumps({"ok": status < 300, "ref": f"p-{len(platform.requests)}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_http_adapter_posts_with_idempotency_key_and_mirrors_the_change():
    story = StoryFactory(is_paywalled=True)
    with FakePlatform([200]) as platform:
        effect = HttpPlatformAdapter(base_url=platform.url, backoff=0).apply(
            cmd("paywall.remove", story.author, story, key="action-42")
        )
    path, key, body = platform.requests[0]
    assert (path, key) == ("/actions/apply", "action-42")
    assert body["outcome"] == "paywall.remove" and body["story_platform_id"] == story.platform_id
    assert effect["platform"]["ref"] == "p-1"
    story.refresh_from_db()
    assert story.is_paywalled is False


def test_http_adapter_retries_server_errors_then_succeeds():
    story = StoryFactory()
    with FakePlatform([503, 500, 200]) as platform:
        HttpPlatformAdapter(base_url=platform.url, retries=4, backoff=0).apply(cmd("story.remove", story.author, story))
    assert len(platform.requests) == 3
    assert {r[1] for r in platform.requests} == {"action-1"}


def test_http_adapter_gives_up_after_the_last_try_and_changes_nothing_locally():
    story = StoryFactory()
    with FakePlatform([500] * 5) as platform, pytest.raises(PlatformError) as exc:
        HttpPlatformAdapter(base_url=platform.url, retries=3, backoff=0).apply(cmd("story.remove", story.author, story))
    assert "gave up after 3 tries" in str(exc.value)
    assert len(platform.requests) == 3
    story.refresh_from_db()
    assert story.is_removed is False


def test_http_adapter_does_not_retry_a_refusal():
    story = StoryFactory()
    with FakePlatform([422]) as platform, pytest.raises(PlatformError) as exc:
        HttpPlatformAdapter(base_url=platform.url, retries=3, backoff=0).apply(cmd("story.remove", story.author, story))
    assert exc.value.retryable is False
    assert len(platform.requests) == 1


def test_http_adapter_unreachable_platform_is_a_platform_error():
    account = AccountFactory()
    with pytest.raises(PlatformError):
        HttpPlatformAdapter(base_url="http://127.0.0.1:9", retries=2, backoff=0).apply(cmd("warning", account))


def test_local_adapter_call_joins_the_callers_transaction():
    story = StoryFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        LocalPlatformAdapter().apply(cmd("story.remove", story.author, story))
        raise RuntimeError("decision rolled back")
    story.refresh_from_db()
    assert story.is_removed is False


@pytest.mark.parametrize(
    ("outcome", "baseline", "standing", "expected"),
    [
        ("account.suspend", "active", [], "active"),
        ("account.suspend", "active", ["account.suspend"], "suspended"),
        ("account.suspend", "active", ["account.restrict"], "restricted"),
        ("account.restrict", "suspended", ["account.restrict"], "suspended"),  # the platform's own is kept
        ("distribution.no_boost", "general", ["distribution.no_boost", "distribution.network_only"], "network_only"),
        ("distribution.network_only", "no_boost", ["distribution.general"], "general"),
        ("distribution.network_only", "no_boost", ["distribution.general", "distribution.no_boost"], "no_boost"),
        ("paywall.remove", True, [], True),
        ("paywall.remove", True, ["paywall.remove"], False),
        ("story.remove", False, ["story.remove", "story.remove"], True),
        ("partner.revoke", {"status": "active"}, ["partner.revoke"], "revoked"),
        ("partner.revoke", {"status": "active"}, [], {"status": "active"}),
    ],
)
def test_what_the_standing_actions_imply_over_the_baseline(outcome, baseline, standing, expected):
    from moderation.platform import compose

    assert compose(outcome, baseline, standing) == expected


def test_only_outcomes_on_the_same_attribute_compose():
    from moderation.platform import sharing_outcomes

    assert sharing_outcomes("account.restrict") == {"account.restrict", "account.suspend"}
    assert sharing_outcomes("distribution.no_boost") == {
        "distribution.no_boost",
        "distribution.network_only",
        "distribution.general",
    }
    assert sharing_outcomes("paywall.remove") == {"paywall.remove"}
    assert sharing_outcomes("partner.earnings_hold") == set()
    assert sharing_outcomes("followers.purge") == set()

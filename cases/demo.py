"""Demo signals, sent through the same service the API uses: reader reports on
paywalled AI-ish stories, AI and engagement-ring detector hits, 'show less' from many
readers and follow-spam hits on fake accounts. Idempotency keys are fixed and start with
"demo-"; once they are stored, a second run sends nothing."""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from cases.models import OPEN_CASE_STATUSES, Case, Queue, Signal
from cases.services.intake import SignalIn, create_api_client, ingest_signal
from moderation.models import Account, ApiClient, Policy, SignalSource, Story, StoryKind

REPORT_REASONS = [
    "This reads like ChatGPT output and it's behind the paywall.",
    "Every paragraph starts with 'In today's fast-paced world'. Paying members shouldn't get this.",
    "Generic AI text, no personal experience at all, and it's member-only.",
    "I pay for Medium to read people, not a language model.",
    "Same structure as five other stories from this writer this week. Looks generated.",
    "No disclosure anywhere, but this is obviously AI-written.",
]
SPAM_REASONS = [
    "The whole story is a funnel to an outside course landing page.",
    "Half the text is links to the author's affiliate shop.",
]
DEMO_KEY_PREFIX = "demo-"
CLIENTS = [
    ("platform-web", [SignalSource.READER_REPORT, SignalSource.SHOW_LESS, SignalSource.STAFF]),
    ("ai-text-classifier", [SignalSource.DETECTOR]),
    ("engagement-ring-detector", [SignalSource.DETECTOR]),
    ("follow-spam-detector", [SignalSource.DETECTOR]),
]


def _clients() -> dict[str, ApiClient]:
    found = {c.name: c for c in ApiClient.objects.select_related("user").filter(name__in=[n for n, _ in CLIENTS])}
    for name, sources in CLIENTS:
        if name not in found:
            found[name], _key = create_api_client(name=name, allowed_sources=list(sources))
    return found


def seed_demo_signals(rng: random.Random) -> list[str]:
    """Send the demo signals once. Which stories get them depends on platform state the
    later demo steps change (a decision takes a story off the paywall, so a second run
    would pick other stories and open new cases), so a second run sends nothing."""
    clients = _clients()
    if Signal.objects.filter(client__in=clients.values(), idempotency_key__startswith=DEMO_KEY_PREFIX).exists():
        return ["Signals: demo signals already sent."]
    policies = {p.code: p for p in Policy.objects.current()}
    now = timezone.now()
    readers = list(Account.objects.filter(platform_id__startswith="u").order_by("platform_id")[:200])
    if not readers:
        return []
    sent = 0

    received: dict[int, object] = {}

    def send(client: str, when: timedelta, **fields) -> None:
        nonlocal sent
        result = ingest_signal(client=clients[client], item=SignalIn(**fields), now=now - when)
        received[result.signal_id] = now - when
        sent += 1

    ai_stories = list(
        Story.objects.filter(kind=StoryKind.STORY, is_paywalled=True, body__startswith="In today's fast-paced world")
        .select_related("author")
        .order_by("platform_id")[:30]
    )
    for n, story in enumerate(ai_stories):
        age = timedelta(hours=rng.randint(2, 90))
        if n < 22:
            score = round(rng.uniform(0.71, 0.99), 2)
            send(
                "ai-text-classifier",
                age,
                idempotency_key=f"demo-ai-{story.platform_id}",
                source=SignalSource.DETECTOR,
                account=story.author.platform_id,
                story=story.platform_id,
                policy=policies["ai.paywalled_generated"],
                detector_name="ai-text-classifier",
                detector_version="2.3.0",
                score=score,
                proposed_outcomes=["paywall.remove"],
                payload={
                    "perplexity": round(rng.uniform(8, 22), 1),
                    "burstiness": round(rng.uniform(0.05, 0.3), 2),
                    "flagged_paragraphs": [1, 2, 3],
                    "threshold": 0.7,
                },
            )
        if n >= 12:
            for i, reader in enumerate(rng.sample(readers, rng.randint(1, 4))):
                send(
                    "platform-web",
                    age - timedelta(minutes=20 * (i + 1)),
                    idempotency_key=f"demo-report-{story.platform_id}-{i}",
                    source=SignalSource.READER_REPORT,
                    account=story.author.platform_id,
                    story=story.platform_id,
                    reporter=reader.platform_id,
                    reason=rng.choice(REPORT_REASONS),
                )

    ring = list(Account.objects.filter(platform_id__startswith="ring").order_by("platform_id"))
    for n, account in enumerate(ring[:12]):
        members = [a.handle for a in ring if a.pk != account.pk][:8]
        send(
            "engagement-ring-detector",
            timedelta(hours=rng.randint(1, 60)),
            idempotency_key=f"demo-ring-{account.platform_id}",
            source=SignalSource.DETECTOR,
            account=account.platform_id,
            policy=policies["engagement.ring"],
            detector_name="engagement-ring-detector",
            detector_version="1.4.0",
            score=round(rng.uniform(0.8, 0.97), 2),
            proposed_outcomes=["partner.earnings_hold"],
            payload={
                "ring_size": len(ring),
                "mutual_follow_ratio": round(rng.uniform(0.9, 1.0), 2),
                "reciprocal_claps_30d": rng.randint(400, 1500),
                "reads_within_5_min_of_publish": round(rng.uniform(0.6, 0.9), 2),
                "sample_members": members,
                "window_days": 30,
            },
        )
        if n < 3:
            send(
                "platform-web",
                timedelta(hours=rng.randint(1, 30)),
                idempotency_key=f"demo-ring-report-{account.platform_id}",
                source=SignalSource.READER_REPORT,
                account=account.platform_id,
                reporter=rng.choice(readers).platform_id,
                policy=policies["engagement.ring"],
                reason="The same 30 accounts clap for every one of this writer's stories within minutes.",
            )

    threshold = settings.MODERATION["SHOW_LESS_THRESHOLD"]
    plain = list(
        Story.objects.filter(kind=StoryKind.STORY, is_paywalled=False)
        .exclude(body__startswith="In today's fast-paced world")
        .select_related("author")
        .order_by("platform_id")[:8]
    )
    for n, story in enumerate(plain[:4]):
        many = threshold + rng.randint(0, 3) if n < 3 else max(threshold - 2, 1)
        age = timedelta(hours=rng.randint(3, 50))
        for i, reader in enumerate(rng.sample(readers, many)):
            send(
                "platform-web",
                age - timedelta(minutes=7 * i),
                idempotency_key=f"demo-showless-{story.platform_id}-{i}",
                source=SignalSource.SHOW_LESS,
                account=story.author.platform_id,
                story=story.platform_id,
                reporter=reader.platform_id,
            )
    for n, story in enumerate(plain[4:7]):
        send(
            "platform-web",
            timedelta(hours=rng.randint(1, 40)),
            idempotency_key=f"demo-spamreport-{story.platform_id}",
            source=SignalSource.READER_REPORT,
            account=story.author.platform_id,
            story=story.platform_id,
            reporter=readers[-1 - n].platform_id,
            policy=policies["spam.external_traffic"],
            reason=rng.choice(SPAM_REASONS),
        )

    fakes = list(Account.objects.filter(platform_id__startswith="fake").order_by("platform_id")[:8])
    for n, account in enumerate(fakes):
        code = "engagement.bulk_interactions" if n < 5 else "spam.automation"
        send(
            "follow-spam-detector",
            timedelta(hours=rng.randint(1, 30)),
            idempotency_key=f"demo-spam-{account.platform_id}",
            source=SignalSource.DETECTOR,
            account=account.platform_id,
            policy=policies[code],
            detector_name="follow-spam-detector",
            detector_version="0.9.1",
            score=round(rng.uniform(0.85, 0.99), 2),
            proposed_outcomes=["account.suspend", "followers.purge"] if n < 5 else ["account.suspend"],
            payload={
                "follows_last_24h": rng.randint(300, 900),
                "reads_last_30_days": 0,
                "account_age_days": rng.randint(1, 20),
                "same_signup_ip_accounts": rng.randint(4, 11),
            },
        )

    _align_times(received)
    open_cases = Case.objects.filter(status__in=OPEN_CASE_STATUSES)
    per_queue = dict(
        Queue.objects.filter(cases__status__in=OPEN_CASE_STATUSES).annotate(n=Count("cases")).values_list("name", "n")
    )
    listing = ", ".join(f"{name} {n}" for name, n in sorted(per_queue.items()))
    return [f"Signals: {sent} demo signals sent (repeats are stored once); {open_cases.count()} open cases: {listing}."]


def _align_times(received: dict) -> None:
    """The demo sends signals "hours ago", but a signal's `received_at` is stamped when it
    is stored: set it (and its evidence item's time) to when the demo says it came, and
    open each case when its first signal came, so a case opened a day ago does not show
    signals received a minute ago."""
    from cases.models import Evidence

    for signal_id, when in received.items():
        Signal.objects.filter(pk=signal_id).update(received_at=when)
        Evidence.objects.filter(signal_id=signal_id).update(created_at=when)
    case_ids = set(Signal.objects.filter(pk__in=list(received), case__isnull=False).values_list("case", flat=True))
    for case in Case.objects.filter(pk__in=case_ids).select_related("queue"):
        first = min(case.signals.values_list("received_at", flat=True))
        Case.objects.filter(pk=case.pk).update(opened_at=first, sla_due_at=first + case.queue.sla)

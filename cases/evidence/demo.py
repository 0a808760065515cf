"""Demo step (before the demo signals): engagement the platform mirror would have sent —
the reading club claps for and reads each other's stories within minutes, ordinary
writers read around — plus a lightly edited copy of a writer's story reported by a
duplicate-content detector; then the near-duplicate index is built."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from cases.evidence.similarity import index_stories
from cases.services.intake import SignalIn, create_api_client, ingest_signal
from moderation.models import Account, ApiClient, EngagementEvent, Policy, SignalSource, Story, StoryKind

COPY_BODY = (
    "Moving to a new city taught me that a routine is a promise you make to a stranger: the person you will be "
    "next month. For the first six weeks I kept a notebook of every small thing that went wrong, the bus I missed, "
    "the bakery that closed early, the neighbour whose name I forgot twice. Reading it back, I noticed that almost "
    "nothing on the list was about the city. It was about me refusing to decide when I would wake up, when I would "
    "walk, and when I would call home. So I wrote a timetable on the back of a receipt and taped it to the fridge."
)


def seed_demo_engagement(rng: random.Random) -> list[str]:
    if EngagementEvent.objects.filter(platform_id__startswith="demo-e").exists():
        return []
    now = timezone.now()
    ring = list(Account.objects.filter(platform_id__startswith="ring").order_by("platform_id"))
    writers = list(Account.objects.filter(platform_id__startswith="u").order_by("platform_id"))
    stories_by = {}
    for story in Story.objects.filter(kind=StoryKind.STORY).only("pk", "author_id", "published_at"):
        stories_by.setdefault(story.author_id, []).append(story)
    events, seq = [], 0

    def event(kind, actor, story, at, count=1):
        nonlocal seq
        seq += 1
        events.append(
            EngagementEvent(
                platform_id=f"demo-e{seq}",
                kind=kind,
                actor=actor,
                target_id=story.author_id,
                story=story,
                count=count,
                occurred_at=at,
                sequence=seq,
            )
        )

    for author in ring:
        for story in stories_by.get(author.pk, [])[:3]:
            published = story.published_at or now
            for reader in ring:
                if reader.pk != author.pk:
                    at = published + timedelta(minutes=rng.randint(1, 5))
                    event("read", reader, story, at)
                    event("clap", reader, story, at + timedelta(seconds=30), count=50)
    for reader in writers:
        for author in rng.sample(writers, 6):
            if author.pk != reader.pk and stories_by.get(author.pk):
                story = rng.choice(stories_by[author.pk])
                event("read", reader, story, now - timedelta(hours=rng.randint(1, 2000)))
                if rng.random() < 0.4:
                    event("clap", reader, story, now - timedelta(hours=rng.randint(1, 2000)), count=rng.randint(1, 10))
    EngagementEvent.objects.bulk_create(events, batch_size=2000)

    original_author, copier = writers[7], writers[11]
    original = Story.objects.create(
        platform_id="demo-original",
        author=original_author,
        title="A routine is a promise to a stranger",
        body=COPY_BODY,
        published_at=now - timedelta(days=40),
    )
    copy = Story.objects.create(
        platform_id="demo-copy",
        author=copier,
        title="A routine is a promise to a stranger",
        body=COPY_BODY.replace("six weeks", "two months").replace("bakery", "corner shop")
        + " Try it for a month and tell me in the responses what changed.",
        published_at=now - timedelta(days=3),
    )
    index_stories(story_ids=list(Story.objects.values_list("pk", flat=True)))
    client = ApiClient.objects.filter(name="duplicate-content-detector").first()
    if client is None:
        client, _ = create_api_client(name="duplicate-content-detector", allowed_sources=[SignalSource.DETECTOR])
    ingest_signal(
        client=client,
        item=SignalIn(
            idempotency_key="demo-duplicate-1",
            source=SignalSource.DETECTOR,
            account=copier.platform_id,
            story=copy.platform_id,
            policy=Policy.objects.current().get(code="spam.duplicate"),
            detector_name="duplicate-content-detector",
            detector_version="0.3.0",
            score=0.91,
            payload={"device_hash": "d-7f3a", "matched": original.platform_id},
        ),
        now=now,
    )
    return [f"{len(events):,} engagement events mirrored; a copied story reported as spam.duplicate"]

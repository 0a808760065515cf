"""Fixtures for the evidence builders: a reading-club ring, a normal community of mutual
followers of the same size, and stories that are copies, topic siblings or unrelated."""

from __future__ import annotations

import random
from datetime import timedelta
from itertools import count

from django.utils import timezone

from moderation.models import EngagementEvent, Follow
from tests.factories import AccountFactory, StoryFactory

_ids = count(1)


def events(rows) -> None:
    """rows: (kind, actor, story, occurred_at[, claps])."""
    EngagementEvent.objects.bulk_create(
        [
            EngagementEvent(
                platform_id=f"ev-{next(_ids)}",
                kind=kind,
                actor=actor,
                target_id=story.author_id,
                story=story,
                count=rest[0] if rest else 1,
                occurred_at=at,
                sequence=next(_ids),
            )
            for kind, actor, story, at, *rest in rows
        ],
        batch_size=2000,
    )


def follow_all(accounts) -> None:
    now = timezone.now()
    Follow.objects.bulk_create(
        [
            Follow(follower=a, followee=b, created_at=now - timedelta(days=60))
            for a in accounts
            for b in accounts
            if a != b
        ]
    )


def outsiders(n=60):
    writers = AccountFactory.create_batch(n)
    return [StoryFactory(author=w) for w in writers]


def make_ring(size=30, *, seed=1, outside_stories=None):
    """Every member reads and claps every other member's stories minutes after they are
    published; they follow each other; they read a little outside."""
    rng = random.Random(seed)
    now = timezone.now()
    members = AccountFactory.create_batch(size)
    stories = [StoryFactory(author=m, published_at=now - timedelta(days=d)) for m in members for d in (3, 10)]
    rows = []
    for story in stories:
        for reader in members:
            if reader.pk != story.author_id:
                at = story.published_at + timedelta(minutes=rng.randint(1, 4))
                rows.append(("read", reader, story, at))
                rows.append(("clap", reader, story, at + timedelta(seconds=20), 50))
    for reader in members:
        for story in rng.sample(outside_stories or [], min(3, len(outside_stories or []))):
            rows.append(("read", reader, story, now - timedelta(hours=rng.randint(1, 2000))))
    events(rows)
    follow_all(members)
    return members


def make_community(size=30, *, seed=2, outside_stories):
    """A real community: everyone follows everyone, but each reads a handful of the
    others (some of whom read back) and mostly reads outside, at ordinary times."""
    rng = random.Random(seed)
    now = timezone.now()
    members = AccountFactory.create_batch(size)
    stories = {m.pk: [StoryFactory(author=m, published_at=now - timedelta(days=rng.randint(1, 90)))] for m in members}
    rows = []
    for reader in members:
        for author in rng.sample([m for m in members if m != reader], 4):
            story = stories[author.pk][0]
            at = now - timedelta(hours=rng.randint(1, 2000))
            rows.append(("read", reader, story, at))
            if rng.random() < 0.5:
                rows.append(("clap", reader, story, at + timedelta(minutes=3), rng.randint(1, 15)))
        for story in rng.sample(outside_stories, 20):
            rows.append(("read", reader, story, now - timedelta(hours=rng.randint(1, 2000))))
    events(rows)
    follow_all(members)
    return members


ORIGINAL = (
    "Every spring I repot the fig tree on my balcony, and every spring it sulks for three weeks. This year I "
    "kept notes. The roots had circled the old pot twice, so I teased them apart with a chopstick, trimmed the "
    "thickest ones by a third and set the tree in a terracotta pot only two fingers wider than the last. I "
    "watered once, deeply, and then left it alone, which is the hardest part. By the fourth week new leaves "
    "unrolled the size of a thumbnail, pale green and ridiculous. My neighbour says figs like to be a little "
    "cramped, that fruit comes from stress, and I have decided to believe him until August proves otherwise. "
    "The lesson I keep relearning is that care is mostly restraint: do the one necessary thing well and wait."
)

LIGHT_EDIT = (
    ORIGINAL.replace("three weeks", "a month")
    .replace("chopstick", "wooden skewer")
    .replace("My neighbour says", "My neighbour insists")
    + " Follow me for more gardening tips every week."
)

SAME_TOPIC = (
    "Fig trees in containers need a bigger pot every two or three years. Choose terracotta for drainage, loosen "
    "circling roots before repotting, and trim any that are damaged. Water thoroughly after repotting and avoid "
    "fertiliser for a month while the roots recover. Expect the tree to drop a few leaves: this is normal stress. "
    "Figs fruit well when slightly root-bound, so resist the urge to jump several pot sizes at once. In spring, "
    "prune crossing branches and keep the tree in full sun for the best harvest in late summer."
)


def filler(rng: random.Random, n_words=120) -> str:
    vocab = [
        "river",
        "city",
        "winter",
        "coffee",
        "design",
        "budget",
        "python",
        "garden",
        "music",
        "market",
        "running",
        "school",
        "bridge",
        "paper",
        "window",
        "harbour",
        "lantern",
        "kitchen",
        "ticket",
        "meeting",
        "spring",
        "orange",
        "cycling",
        "museum",
        "letter",
        "camera",
        "island",
        "family",
    ]
    return " ".join(rng.choice(vocab) for _ in range(n_words))

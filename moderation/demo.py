"""A believable platform for demos and local work: writers, Partner Program members,
an engagement ring of ~30 accounts, fake follower accounts, thousands of stories and
responses, and one staff user per role. Deterministic for a given seed, and safe to
run twice (rows are keyed by platform id / username)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from moderation.models import (
    Account,
    AIDisclosure,
    Follow,
    PartnerStatus,
    Story,
    StoryKind,
)
from moderation.roles import Role

DEMO_PASSWORD = "demo-pass-2026"
DEMO_STAFF = [
    ("moderator", "Mira", "Moderator", [Role.MODERATOR]),
    ("moderator2", "Malik", "Moderator", [Role.MODERATOR]),
    ("senior", "Sofia", "Senior", [Role.SENIOR_MODERATOR]),
    ("appeals", "Arjun", "Appeals", [Role.APPEALS_REVIEWER]),
    ("supervisor", "Sam", "Supervisor", [Role.SUPERVISOR]),
]

TOPICS = [
    "remote work",
    "sourdough",
    "personal finance",
    "Python",
    "grief",
    "running",
    "climate",
    "startups",
    "poetry",
    "parenting",
    "productivity",
    "history",
    "design systems",
    "travel",
    "mental health",
    "machine learning",
    "gardening",
    "film",
    "chess",
    "urban cycling",
]
FIRST = [
    "Ada",
    "Ben",
    "Cleo",
    "Dev",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jin",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Oto",
    "Pia",
    "Quin",
    "Rosa",
    "Sol",
    "Tam",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
    "Zed",
]
LAST = [
    "Okafor",
    "Lind",
    "Moreau",
    "Sato",
    "Novak",
    "Reyes",
    "Baker",
    "Haddad",
    "Kowalski",
    "Nguyen",
    "Fischer",
    "Silva",
    "Khan",
    "Brennan",
    "Ivanova",
    "Tanaka",
    "Mensah",
    "Costa",
]


DemoStep = Callable[[random.Random], list[str]]
_demo_steps: list[tuple[int, str, DemoStep]] = []


def register_demo_step(name: str, step: DemoStep, *, position: int = 100) -> None:
    """Apps built on the core add their demo data (signals, cases, decisions, appeals)
    here from AppConfig.ready; each step must be safe to run twice and returns lines
    to print."""
    _demo_steps[:] = [s for s in _demo_steps if s[1] != name]
    _demo_steps.append((position, name, step))
    _demo_steps.sort(key=lambda s: (s[0], s[1]))


@dataclass
class DemoSummary:
    accounts: int
    stories: int
    follows: int
    ring_handles: list[str]
    fake_handles: list[str]
    staff: list[tuple[str, str, str]]
    notes: list[str]


def _story_body(rng: random.Random, topic: str, ai_like: bool) -> str:
    if ai_like:
        paragraphs = [
            f"In today's fast-paced world, {topic} has become more important than ever.",
            f"Let's delve into the key aspects of {topic} and explore why it matters.",
            f"In conclusion, {topic} is a multifaceted topic with many benefits and challenges.",
        ]
    else:
        paragraphs = [
            f"I started thinking about {topic} on a wet Tuesday, {rng.randint(2, 9)} years ago.",
            f"What surprised me most was how little of it was about {rng.choice(TOPICS)}.",
            "Here is what I got wrong, and what I would tell myself now.",
        ]
    return "\n\n".join(paragraphs)


@transaction.atomic
def seed_demo_platform(*, seed: int = 2026, writers: int = 300) -> DemoSummary:
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    epoch = now - timedelta(days=3 * 365)

    accounts: list[Account] = []
    for i in range(writers):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        partner = rng.random() < 0.35
        joined = epoch + timedelta(days=rng.randint(0, 900))
        accounts.append(
            Account(
                platform_id=f"u{i:05d}",
                handle=f"{first.lower()}{last.lower()}{i}",
                display_name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}{i}@example.com",
                partner_status=PartnerStatus.ACTIVE if partner else PartnerStatus.NOT_ENROLLED,
                partner_enrolled_at=joined + timedelta(days=30) if partner else None,
                reads_last_30_days=rng.randint(0, 120),
                joined_at=joined,
            )
        )
    ring = [
        Account(
            platform_id=f"ring{i:03d}",
            handle=f"clapcircle{i}",
            display_name=f"Reading Club {i}",
            email=f"clapcircle{i}@example.net",
            partner_status=PartnerStatus.ACTIVE,
            partner_enrolled_at=now - timedelta(days=200 - i),
            reads_last_30_days=rng.randint(200, 400),
            joined_at=now - timedelta(days=240 - i),
        )
        for i in range(30)
    ]
    fakes = [
        Account(
            platform_id=f"fake{i:03d}",
            handle=f"user{rng.randint(10**7, 10**8)}x{i}",
            display_name="",
            email="",
            reads_last_30_days=0,
            joined_at=now - timedelta(days=rng.randint(1, 20)),
        )
        for i in range(12)
    ]
    Account.objects.bulk_create(accounts + ring + fakes, ignore_conflicts=True, batch_size=500)
    by_pid = {a.platform_id: a for a in Account.objects.all()}
    writer_accounts = [by_pid[a.platform_id] for a in accounts]
    ring_accounts = [by_pid[a.platform_id] for a in ring]
    fake_accounts = [by_pid[a.platform_id] for a in fakes]

    stories: list[Story] = []
    for n in range(2400):
        author = rng.choice(writer_accounts + ring_accounts)
        topic = rng.choice(TOPICS)
        ai_like = rng.random() < 0.08
        stories.append(
            Story(
                platform_id=f"s{n:06d}",
                author=author,
                kind=StoryKind.STORY,
                title=f"What {topic} taught me about {rng.choice(TOPICS)}",
                url=f"https://platform.example/@{author.handle}/s{n:06d}",
                body=_story_body(rng, topic, ai_like),
                is_paywalled=author.partner_status == PartnerStatus.ACTIVE and rng.random() < 0.7,
                ai_disclosure=AIDisclosure.GENERATED if ai_like and rng.random() < 0.3 else AIDisclosure.NONE,
                published_at=now - timedelta(hours=rng.randint(1, 24 * 400)),
            )
        )
    Story.objects.bulk_create(stories, ignore_conflicts=True, batch_size=500)
    story_ids = list(Story.objects.filter(kind=StoryKind.STORY).values_list("id", flat=True).order_by("id"))

    responses = []
    for n in range(1600):
        in_ring = n % 3 == 0
        author = rng.choice(ring_accounts if in_ring else writer_accounts)
        responses.append(
            Story(
                platform_id=f"r{n:06d}",
                author=author,
                kind=StoryKind.RESPONSE,
                in_response_to_id=rng.choice(story_ids),
                body="Great article! Please check out my latest story too."
                if in_ring
                else "Thoughtful piece — the second section changed my mind.",
                published_at=now - timedelta(hours=rng.randint(1, 24 * 200)),
            )
        )
    Story.objects.bulk_create(responses, ignore_conflicts=True, batch_size=500)

    edges: set[tuple[int, int]] = set()
    for follower in writer_accounts:
        for followee in rng.sample(writer_accounts, 8):
            if followee.pk != follower.pk:
                edges.add((follower.pk, followee.pk))
    for a in ring_accounts:
        for b in ring_accounts:
            if a.pk != b.pk:
                edges.add((a.pk, b.pk))
    for fake in fake_accounts:
        for followee in rng.sample(writer_accounts + ring_accounts, 60):
            edges.add((fake.pk, followee.pk))
    Follow.objects.bulk_create(
        [
            Follow(follower_id=f, followee_id=t, created_at=now - timedelta(days=rng.randint(1, 600)))
            for f, t in sorted(edges)
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    _refresh_counts()

    staff = seed_demo_staff()
    notes: list[str] = []
    for _, _, step in list(_demo_steps):
        notes.extend(step(random.Random(seed)))
    return DemoSummary(
        accounts=Account.objects.count(),
        stories=Story.objects.count(),
        follows=Follow.objects.filter(is_active=True).count(),
        ring_handles=[a.handle for a in ring_accounts],
        fake_handles=[a.handle for a in fake_accounts],
        staff=staff,
        notes=notes,
    )


def _refresh_counts() -> None:
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    followers = (
        Follow.objects.filter(followee=OuterRef("pk"), is_active=True)
        .values("followee")
        .annotate(n=Count("id"))
        .values("n")
    )
    stories = (
        Story.objects.filter(author=OuterRef("pk"), kind=StoryKind.STORY)
        .values("author")
        .annotate(n=Count("id"))
        .values("n")
    )
    Account.objects.update(
        follower_count=Coalesce(Subquery(followers), 0),
        story_count=Coalesce(Subquery(stories), 0),
    )


def seed_demo_staff() -> list[tuple[str, str, str]]:
    User = get_user_model()
    created = []
    for username, first, last, roles in DEMO_STAFF:
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@backoffice.example",
                "is_staff": True,
            },
        )
        if was_created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.set(Group.objects.filter(name__in=roles))
        created.append((username, DEMO_PASSWORD, ", ".join(roles)))
    return created

"""Evidence builders at scale: ring evidence for an account with 50,000 engagement edges,
and near-duplicate lookups against a large story set whose index was built incrementally
(batch by batch, as stories arrive)."""

import random
import statistics
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from bench.registry import benchmark
from cases.evidence.engagement import engagement_pattern
from cases.evidence.services import build_engagement_evidence
from cases.evidence.similarity import band_keys, index_stories, near_duplicates, shingles, signatures, text_of
from cases.models import Case, Queue, StoryBand, StorySignature
from moderation.models import Account, EngagementEvent, Policy, Story

VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa") for b in range(300)]


def _insert(model, columns: list[str], rows) -> None:
    """Bulk load: COPY on PostgreSQL, executemany elsewhere."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows))


def _accounts(n: int, prefix: str) -> list[int]:
    now = timezone.now()
    Account.objects.bulk_create(
        [
            Account(platform_id=f"{prefix}{i}", handle=f"{prefix}_{i}", joined_at=now - timedelta(days=400))
            for i in range(n)
        ],
        batch_size=5000,
    )
    return list(Account.objects.filter(platform_id__startswith=prefix).order_by("pk").values_list("pk", flat=True))


@benchmark("evidence_ring")
def evidence_ring(scale: float):
    """An account engaged with 50,000 times (× scale) by thousands of readers, 30 of them a ring."""
    rng = random.Random(14)
    edges = max(2_000, int(50_000 * scale))
    ids = _accounts(max(200, edges // 10) + 31, "rb")
    me, ring, crowd = ids[0], ids[1:31], ids[31:]
    now = timezone.now()
    stories = {}
    for author in [me, *ring]:
        stories[author] = Story.objects.create(platform_id=f"rbs{author}", author_id=author, published_at=now)
    rows, seq = [], 0

    def add(actor, target, minutes):
        nonlocal seq
        seq += 1
        rows.append(
            EngagementEvent(
                platform_id=f"rbe{seq}",
                kind="clap" if seq % 2 else "read",
                actor_id=actor,
                target_id=target,
                story=stories.get(target),
                count=1,
                occurred_at=now - timedelta(minutes=minutes),
                sequence=seq,
            )
        )

    for a in [me, *ring]:
        for b in [me, *ring]:
            if a != b:
                for _ in range(3):
                    add(a, b, rng.randint(1, 600))
    touching = sum(1 for e in rows if me in (e.actor_id, e.target_id))
    while touching < edges:
        actor = rng.choice(crowd)
        if rng.random() < 0.8:
            add(actor, me, rng.randint(1, 200_000))
        else:
            add(me, actor, rng.randint(1, 200_000))
        touching += 1
    started = time.perf_counter()
    EngagementEvent.objects.bulk_create(rows, batch_size=5000)
    yield f"{len(rows):,} events ({touching:,} touching the account) loaded in {time.perf_counter() - started:.1f}s"
    account = Account.objects.get(pk=me)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        data = engagement_pattern(account)
        timings.append(time.perf_counter() - started)
    assert data["is_ring"] and len(data["members"]) == 30, data["checks"]
    best, worst = min(timings), max(timings)
    yield f"ring found ({len(data['members'])} members): engagement_pattern best {best:.2f}s, worst {worst:.2f}s"
    case = Case.objects.create(
        account=account,
        policy_family="engagement",
        policy=Policy.objects.current().get(code="engagement.ring"),
        queue=Queue.objects.first(),
        opened_at=now,
        sla_due_at=now + timedelta(hours=48),
    )
    started = time.perf_counter()
    build_engagement_evidence(case=case)
    yield f"evidence built and stored (hashed, audited) in {time.perf_counter() - started:.2f}s"


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(words))


@benchmark("evidence_similar")
def evidence_similar(scale: float):
    """Near-duplicate lookups against 1,000,000 stories (× scale) indexed in batches."""
    rng = random.Random(41)
    n = max(10_000, int(1_000_000 * scale))
    authors = _accounts(1000, "sb")
    now = timezone.now()
    batch = 20_000
    load = sign = 0.0
    first_id = None
    last_id = Story.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    columns = [
        "platform_id", "author_id", "kind", "title", "url", "body", "is_paywalled", "distribution",
        "ai_disclosure", "is_removed", "published_at", "facts_pending", "facts_version", "created_at", "updated_at",
    ]  # fmt: skip
    for start in range(0, n, batch):
        size = min(batch, n - start)
        texts = [_text(rng, 60) for _ in range(size)]
        started = time.perf_counter()
        _insert(
            Story,
            columns,
            (
                (f"sb{start + i}", authors[(start + i) % len(authors)], "story", "", "", t, False, "general", "none",
                 False, now - timedelta(minutes=start + i), False, 0, now, now)
                for i, t in enumerate(texts)
            ),
        )  # fmt: skip
        ids = list(Story.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:size])
        last_id = ids[-1]
        first_id = first_id or ids[0]
        load += time.perf_counter() - started
        started = time.perf_counter()
        sigs = signatures([shingles(t) for t in texts])
        _insert(
            StorySignature,
            ["story_id", "signature", "text_hash", "shingles"],
            ((pk, sig.astype("<u4").tobytes(), "", 58) for pk, sig in zip(ids, sigs, strict=True)),
        )
        _insert(
            StoryBand, ["story_id", "key"], ((pk, k) for pk, sig in zip(ids, sigs, strict=True) for k in band_keys(sig))
        )
        sign += time.perf_counter() - started
        if (start // batch) % 2 == 1:
            print(f"    … {start + size:,} stories, load {load:.0f}s, sign+band {sign:.0f}s", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {StoryBand._meta.db_table}")
    yield f"{n:,} stories loaded in {load:.0f}s; signed and banded batch by batch in {sign:.0f}s ({n * 16:,} band rows)"

    originals = (
        list(Story.objects.filter(pk__gte=first_id).order_by("?")[:25])
        if n < 50_000
        else [Story.objects.get(platform_id=f"sb{rng.randrange(n)}") for _ in range(25)]
    )
    copies = []
    for i, original in enumerate(originals):
        words = original.body.split()
        for j in rng.sample(range(len(words)), 3):
            words[j] = rng.choice(VOCAB)
        copies.append(Story(platform_id=f"copy{i}", author_id=authors[i], body=" ".join(words), published_at=now))
    fresh = [
        Story(platform_id=f"fresh{i}", author_id=authors[i], body=_text(rng, 60), published_at=now) for i in range(25)
    ]
    Story.objects.bulk_create(copies + fresh)
    new = list(Story.objects.filter(platform_id__regex=r"^(copy|fresh)").order_by("pk"))
    started = time.perf_counter()
    index_stories(story_ids=[s.pk for s in new])
    yield f"50 arriving stories indexed incrementally in {time.perf_counter() - started:.2f}s"
    timings, found = [], 0
    for story in new:
        started = time.perf_counter()
        matches = near_duplicates(story)
        timings.append(time.perf_counter() - started)
        if story.platform_id.startswith("copy"):
            original = originals[int(story.platform_id[4:])]
            found += any(s.pk == original.pk for s, _ in matches)
        else:
            assert not matches, text_of(story)
    timings.sort()
    yield (
        f"lookup per story: median {statistics.median(timings) * 1000:.0f} ms, "
        f"p95 {timings[int(len(timings) * 0.95) - 1] * 1000:.0f} ms, max {timings[-1] * 1000:.0f} ms; "
        f"{found}/25 edited copies found, 0/25 unrelated stories matched"
    )

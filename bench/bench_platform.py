"""The evidence builders and the audit verifier on the full platform data set
(bench/datagen.py): what a reviewer waits for when the platform is its real size."""

import random
import statistics
import time
from datetime import timedelta

from django.utils import timezone

from bench.datagen import COPY_EVERY, copy_rows, generate
from bench.registry import benchmark


def _p95(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


@benchmark("platform_data")
def platform_data(scale: float):
    """Generate the platform (200k accounts, 1M stories, 2M signals, 300k cases, 1M audit
    events, 2M follows × scale), then time near-duplicate lookups, ring evidence for an
    account with 50,000 engagement edges and a full audit-chain verification on it."""
    from cases.evidence.engagement import engagement_pattern
    from cases.evidence.similarity import near_duplicates
    from moderation.audit import verify_chain
    from moderation.models import Account, EngagementEvent, Story

    started = time.perf_counter()
    data = generate(scale=scale, progress=lambda line: print(f"    {line}", flush=True))
    yield f"generated in {time.perf_counter() - started:.0f}s"
    yield from data.lines()

    rng = random.Random(7)
    copies = list(range(COPY_EVERY - 1, len(data.story_ids), COPY_EVERY))
    picks = [data.story_ids[i] for i in rng.sample(copies, min(25, len(copies)))]
    picks += rng.sample(data.story_ids, 25)
    timings, matched_copies = [], 0
    for story in Story.objects.filter(pk__in=picks):
        started = time.perf_counter()
        matches = near_duplicates(story)
        timings.append(time.perf_counter() - started)
        matched_copies += bool(matches) and story.pk in picks[:25]
    yield (
        f"near-duplicate lookup against {len(data.story_ids):,} stories: median "
        f"{statistics.median(timings) * 1000:.0f} ms, p95 {_p95(timings) * 1000:.0f} ms "
        f"(target ≤ 200 ms); {matched_copies}/{min(25, len(copies))} edited copies matched an earlier story"
    )

    edges = max(2_000, int(50_000 * scale))
    me, *crowd = data.account_ids[: 1 + max(200, edges // 10)]
    ring = crowd[:30]
    now = timezone.now()
    rows, seq = [], 0

    def add(actor, target):
        nonlocal seq
        seq += 1
        rows.append(
            {
                "platform_id": f"pd-e{seq}",
                "kind": "clap" if seq % 2 else "read",
                "actor_id": actor,
                "target_id": target,
                "occurred_at": now - timedelta(minutes=rng.randint(1, 200_000)),
                "sequence": seq,
                "received_at": now,
            }
        )

    for a in [me, *ring]:
        for b in [me, *ring]:
            if a != b:
                for _ in range(3):
                    add(a, b)
    while seq < edges:
        actor = rng.choice(crowd[30:])
        add(actor, me) if rng.random() < 0.8 else add(me, actor)
    copy_rows(EngagementEvent, rows)
    account = Account.objects.get(pk=me)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        pattern = engagement_pattern(account)
        timings.append(time.perf_counter() - started)
    yield (
        f"ring evidence for an account with {seq:,} engagement edges: best {min(timings):.2f}s, "
        f"worst {max(timings):.2f}s (target ≤ 2 s); ring found: {pattern['is_ring']} "
        f"({len(pattern['members'])} members)"
    )

    started = time.perf_counter()
    report = verify_chain()
    elapsed = time.perf_counter() - started
    yield (
        f"verify_audit_chain over the whole log: {elapsed:.1f}s "
        f"({report.checked / elapsed:,.0f} events/s): {report.summary()}"
    )

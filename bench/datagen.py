"""The platform at full size, for benchmarks: 200,000 accounts, 1,000,000 stories,
2,000,000 signals, 300,000 cases, 1,000,000 audit events and 2,000,000 follow edges
(times a scale factor), loaded by COPY on PostgreSQL.

Shaped like the real thing where the benchmarks can tell: followers and signals
concentrate on a few accounts (a Zipf-like draw), one story in fifty is a lightly
edited copy of an earlier one, open cases wait in every queue, and the near-duplicate
index is built batch by batch as the stories arrive, the way the platform feeds it.
Audit events go through the real append path (`record_events`) and the sequencer, so
the chain they form verifies like any other.

Rows are written with every column the model has: a field this file does not name
gets the model's default, so a new nullable or defaulted field never breaks it."""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, models, transaction
from django.utils import timezone

FULL_SIZES = {
    "accounts": 200_000,
    "stories": 1_000_000,
    "signals": 2_000_000,
    "cases": 300_000,
    "audit_events": 1_000_000,
    "follows": 2_000_000,
}
BATCH = 20_000
VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa") for b in range(300)]
COPY_EVERY = 50  # one story in fifty is a lightly edited copy of an earlier one


@dataclass
class Generated:
    prefix: str
    sizes: dict[str, int]
    seconds: dict[str, float]
    account_ids: list[int]
    story_ids: list[int]
    case_ids: list[int]

    def lines(self) -> Iterator[str]:
        for name, size in self.sizes.items():
            seconds = self.seconds.get(name, 0.0)
            rate = f"{size / seconds:,.0f}/s" if seconds else "-"
            yield f"{name}: {size:,} in {seconds:.1f}s ({rate})"


def sizes_for(scale: float) -> dict[str, int]:
    return {name: max(10, int(full * scale)) for name, full in FULL_SIZES.items()}


# --- writing rows ----------------------------------------------------------------------


def _column_values(model: type[models.Model], given: dict, now) -> list:
    values = []
    for field in _fields(model):
        if field.attname in given:
            value = given[field.attname]
        elif field.has_default():
            value = field.get_default()
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        elif field.null:
            value = None
        elif field.empty_strings_allowed and field.blank:
            value = ""
        else:
            raise ValueError(f"datagen: {model.__name__}.{field.name} needs a value")
        if isinstance(field, models.JSONField):
            value = json.dumps(value)
        values.append(value)
    return values


def _fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key or f.attname != "id"]


def copy_rows(model: type[models.Model], rows: Iterable[dict]) -> int:
    """COPY on PostgreSQL (the fastest load it has), executemany elsewhere."""
    now = timezone.now()
    columns = [f.column for f in _fields(model)]
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(_column_values(model, row, now))
                    count += 1
        else:
            values = [_column_values(model, row, now) for row in rows]
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", values)
            count = len(values)
    return count


def _ids(model: type[models.Model], field: str, prefix: str) -> list[int]:
    return list(
        model.objects.filter(**{f"{field}__startswith": prefix}).order_by("pk").values_list("pk", flat=True).iterator()
    )


def _skewed(rng: random.Random, n: int) -> int:
    """An index in [0, n) where low indexes are far likelier (popular accounts)."""
    return min(n - 1, int(n * rng.random() ** 3))


def _timed(seconds: dict, name: str, step: Callable[[], object]):
    started = time.perf_counter()
    result = step()
    seconds[name] = time.perf_counter() - started
    return result


# --- the platform ----------------------------------------------------------------------


def generate(
    *, scale: float = 1.0, seed: int = 16, prefix: str = "gen", progress=None, signed: bool = True
) -> Generated:
    """Fill the database. Idempotent per prefix only in the sense that a second run
    with the same prefix refuses (platform ids are unique). `signed=False` skips the
    near-duplicate index (nearly all of a full load's time) for benchmarks that never
    look stories up by similarity."""
    from moderation.models import Account

    if Account.objects.filter(platform_id=f"{prefix}-a0").exists():
        raise ValueError(f"data with prefix {prefix!r} is already loaded; pass another prefix")
    rng = random.Random(seed)
    sizes = sizes_for(scale)
    seconds: dict[str, float] = {}
    say = progress or (lambda line: None)
    now = timezone.now()

    accounts = _timed(seconds, "accounts", lambda: _accounts(rng, sizes["accounts"], prefix, now))
    say(f"accounts: {len(accounts):,}")
    stories = _timed(
        seconds, "stories", lambda: _stories(rng, sizes["stories"], prefix, accounts, now, say, signed=signed)
    )
    say(f"stories: {len(stories):,}" + (" (signed and banded)" if signed else " (not signed)"))
    _timed(seconds, "follows", lambda: _follows(rng, sizes["follows"], accounts, now))
    say(f"follows: {sizes['follows']:,}")
    cases = _timed(seconds, "cases", lambda: _cases(rng, sizes["cases"], accounts, stories, now))
    say(f"cases: {len(cases):,}")
    _timed(seconds, "signals", lambda: _signals(rng, sizes["signals"], prefix, accounts, stories, cases, now))
    say(f"signals: {sizes['signals']:,}")
    _timed(seconds, "audit_events", lambda: _audit_events(rng, sizes["audit_events"], accounts, say))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return Generated(prefix, sizes, seconds, accounts, stories, [pk for pk, _, _ in cases])


def _accounts(rng: random.Random, n: int, prefix: str, now) -> list[int]:
    from moderation.models import Account, PartnerStatus

    def rows():
        for i in range(n):
            partner = rng.random() < 0.1
            yield {
                "platform_id": f"{prefix}-a{i}",
                "handle": f"{prefix}_{i}",
                "display_name": f"Writer {i}",
                "email": f"{prefix}.{i}@writers.example",
                "partner_status": PartnerStatus.ACTIVE if partner else PartnerStatus.NOT_ENROLLED,
                "partner_enrolled_at": now - timedelta(days=rng.randint(1, 900)) if partner else None,
                "joined_at": now - timedelta(days=rng.randint(1, 2000)),
                "created_at": now,
                "updated_at": now,
            }

    with transaction.atomic():
        copy_rows(Account, rows())
    return _ids(Account, "platform_id", f"{prefix}-a")


def _words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def _stories(rng: random.Random, n: int, prefix: str, accounts: list[int], now, say, *, signed: bool) -> list[int]:
    """Stories arrive in batches; each batch is signed and banded before the next, as
    `index_stories` does when the platform mirror delivers them."""
    from moderation.models import Story

    ids: list[int] = []
    recent: deque[list[str]] = deque(maxlen=200)
    last_id = Story.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        bodies = []
        for i in range(start, start + size):
            if recent and i % COPY_EVERY == COPY_EVERY - 1:
                words = list(rng.choice(recent))
                for j in rng.sample(range(len(words)), 3):
                    words[j] = rng.choice(VOCAB)
            else:
                words = _words(rng, rng.randint(40, 90))
            bodies.append(words)
            recent.append(words)
        texts = [" ".join(w) for w in bodies]
        with transaction.atomic():
            copy_rows(
                Story,
                (
                    {
                        "platform_id": f"{prefix}-s{start + k}",
                        "author_id": accounts[_skewed(rng, len(accounts))],
                        "title": f"Story {start + k}",
                        "body": text,
                        "is_paywalled": rng.random() < 0.3,
                        "published_at": now - timedelta(minutes=n - (start + k)),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for k, text in enumerate(texts)
                ),
            )
            batch_ids = list(Story.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:size])
            last_id = batch_ids[-1]
        if signed:
            _sign(batch_ids, texts, start)
        ids.extend(batch_ids)
        if (start // BATCH) % 10 == 9:
            say(f"  … {start + size:,} stories")
    return ids


def _sign(batch_ids: list[int], texts: list[str], start: int) -> None:
    """What `index_stories` does for a batch the mirror delivered: signatures and bands."""
    from cases.evidence.similarity import band_keys, shingles, signatures
    from cases.models import StoryBand, StorySignature

    with transaction.atomic():
        sigs = signatures([shingles(f"Story {start + k}\n{t}") for k, t in enumerate(texts)])
        copy_rows(
            StorySignature,
            (
                {"story_id": pk, "signature": sig.astype("<u4").tobytes(), "text_hash": "", "shingles": 0}
                for pk, sig in zip(batch_ids, sigs, strict=True)
            ),
        )
        copy_rows(
            StoryBand,
            ({"story_id": pk, "key": key} for pk, sig in zip(batch_ids, sigs, strict=True) for key in band_keys(sig)),
        )


def _follows(rng: random.Random, n: int, accounts: list[int], now) -> None:
    from moderation.models import Account, Follow

    total = len(accounts)
    n = min(n, total * (total - 1))
    seen: set[int] = set()
    edges: list[tuple[int, int]] = []
    while len(edges) < n:
        follower = rng.randrange(total)
        followee = _skewed(rng, total)
        key = follower * total + followee
        if follower != followee and key not in seen:
            seen.add(key)
            edges.append((accounts[follower], accounts[followee]))
    for start in range(0, n, BATCH * 5):
        with transaction.atomic():
            copy_rows(
                Follow,
                (
                    {"follower_id": a, "followee_id": b, "created_at": now - timedelta(minutes=rng.randint(1, 10**6))}
                    for a, b in edges[start : start + BATCH * 5]
                ),
            )
    table, follows = Account._meta.db_table, Follow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET follower_count = (SELECT count(*) FROM {follows} f "
            f"WHERE f.followee_id = {table}.id AND f.is_active) WHERE id IN "
            f"(SELECT DISTINCT followee_id FROM {follows})"
        )


def _cases(rng: random.Random, n: int, accounts: list[int], stories: list[int], now) -> list[tuple[int, int, int]]:
    """Open cases in every queue (the claim benchmarks' work), the rest decided or
    dismissed. One case per story, so the one-open-case-per-subject rule holds."""
    from cases.models import Case, CaseStatus, Queue
    from moderation.models import Policy, Story

    policies = list(Policy.objects.current().values_list("pk", "family"))
    queues = list(Queue.objects.filter(is_escalation=False).values_list("pk", flat=True))
    picked = rng.sample(range(len(stories)), min(n, len(stories)))
    picked_ids = [stories[i] for i in picked]
    author_of = dict(Story.objects.filter(pk__in=picked_ids).values_list("pk", "author_id").iterator())

    def rows():
        for story_id in picked_ids:
            policy_id, family = rng.choice(policies)
            opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
            closed = rng.random() < 0.35
            yield {
                "account_id": author_of[story_id],
                "story_id": story_id,
                "policy_family": family,
                "policy_id": policy_id,
                "queue_id": rng.choice(queues),
                "status": rng.choice([CaseStatus.DECIDED, CaseStatus.DISMISSED]) if closed else CaseStatus.OPEN,
                "priority": rng.randint(0, 100),
                "automated_origin": rng.random() < 0.5,
                "sla_due_at": opened + timedelta(hours=48),
                "opened_at": opened,
                "decided_at": opened + timedelta(hours=rng.randint(1, 40)) if closed else None,
                "updated_at": now,
            }

    with transaction.atomic():
        copy_rows(Case, rows())
    return list(Case.objects.filter(story_id__in=picked_ids).values_list("pk", "account_id", "story_id").order_by("pk"))


def _signals(rng, n, prefix, accounts, stories, cases, now) -> None:
    from cases.models import Case, Signal, SignalSource
    from cases.services.intake import create_api_client
    from moderation.models import Policy

    client, _ = create_api_client(
        name=f"{prefix}-detector", allowed_sources=[SignalSource.DETECTOR, SignalSource.READER_REPORT]
    )
    policy_of = dict(Case.objects.filter(pk__in=[c for c, _, _ in cases]).values_list("pk", "policy_id").iterator())
    fallback_policy = Policy.objects.current().values_list("pk", flat=True).first()
    detectors = [("spam-classifier", "4.1.0"), ("ai-text-classifier", "2.3.0"), ("ring-finder", "1.2.0")]
    reasons = ["Looks like spam", "Copied from my blog", "Clap farming", "Not disclosed as AI", ""]

    def rows(start: int, size: int):
        for i in range(start, start + size):
            on_case = cases and rng.random() < 0.9
            if on_case:
                case_id, account_id, story_id = cases[_skewed(rng, len(cases))]
            else:
                case_id, account_id, story_id = None, accounts[_skewed(rng, len(accounts))], None
            detector = rng.random() < 0.6
            name, version = rng.choice(detectors) if detector else ("", "")
            yield {
                "client_id": client.pk,
                "idempotency_key": f"{prefix}-sig-{i}",
                "source": SignalSource.DETECTOR if detector else SignalSource.READER_REPORT,
                "account_id": account_id,
                "story_id": story_id,
                "reporter_id": None if detector else accounts[rng.randrange(len(accounts))],
                "reason": "" if detector else rng.choice(reasons),
                "policy_id": (policy_of.get(case_id) or fallback_policy) if detector else policy_of.get(case_id),
                "detector_name": name,
                "detector_version": version,
                "score": round(rng.random(), 3) if detector else None,
                "payload": {},
                "observed_at": now - timedelta(minutes=rng.randint(1, 60 * 24 * 30)),
                "received_at": now,
                "case_id": case_id,
            }

    for start in range(0, n, BATCH * 5):
        with transaction.atomic():
            copy_rows(Signal, rows(start, min(BATCH * 5, n - start)))
    table, signals = Case._meta.db_table, Signal._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET signal_count = (SELECT count(*) FROM {signals} s WHERE s.case_id = {table}.id), "
            f"reporter_count = (SELECT count(DISTINCT s.reporter_id) FROM {signals} s WHERE s.case_id = {table}.id), "
            f"max_detector_score = (SELECT max(s.score) FROM {signals} s WHERE s.case_id = {table}.id) "
            f"WHERE id IN (SELECT DISTINCT case_id FROM {signals} WHERE case_id IS NOT NULL)"
        )


def _audit_events(rng: random.Random, n: int, accounts: list[int], say) -> None:
    """Through the real append path and the real sequencer: the chain must verify."""
    from moderation.audit import VERBS, record_events
    from moderation.audit_sequencer import run_sequencer
    from moderation.models import Account

    verbs = ["account.facts_ignored", "case.opened", "signal.received", "case.claimed", "decision.made"]
    verbs = [v for v in verbs if v in VERBS] or sorted(VERBS)[:5]
    chunk = 10_000
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        with transaction.atomic():
            record_events(
                actor=None,
                events=[
                    {
                        "verb": rng.choice(verbs),
                        "target": Account(pk=accounts[_skewed(rng, len(accounts))], handle="generated"),
                        "after": {"n": start + k},
                    }
                    for k in range(size)
                ],
            )
        run_sequencer()
        if (start // chunk) % 20 == 19:
            say(f"  … {start + size:,} audit events appended and integrated")

"""Use cases of the platform mirror, one function each, set-based: a batch of up to
MIRROR_BATCH_LIMIT items is read with a few bulk queries, written with bulk inserts
and updates, and audited with one bulk append, in one transaction.

Ordering: each account, story and follow edge keeps the platform's sequence of the
newest update mirrored (`facts_version`); an item with an older sequence changes
nothing (`stale`), the same sequence again changes nothing (`unchanged`), so a batch
sent twice, or out of order, ends in the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

import moderation.mirror.audit_verbs  # noqa: F401  (registers the verbs used below)
from moderation.audit import record_event, record_events
from moderation.mirror.bulk import update_rows
from moderation.mirror.concurrency import Overtaken, insert_missing, retried
from moderation.models import (
    Account,
    ApiClient,
    EngagementEvent,
    Follow,
    PartnerStatus,
    Story,
    StoryKind,
)
from moderation.personal_data import live_keys, seal_with
from moderation.signals import stories_written

MIRROR_BATCH_LIMIT = 10_000
_IN_CHUNK = 2_000  # ids per IN (...) lookup
_WRITE_BATCH = 500
UNKNOWN = "Unknown {}; mirror it through /api/v1/platform/{}/ first."

ACCOUNT_FACTS = (
    "handle",
    "display_name",
    "email",
    "status",
    "partner_status",
    "partner_enrolled_at",
    "partner_revoked_at",
    "follower_count",
    "story_count",
    "reads_last_30_days",
    "joined_at",
    "language",
)
AUDITED_ACCOUNT_FACTS = (
    "email",
    "language",
    "status",
    "partner_status",
    "partner_enrolled_at",
    "partner_revoked_at",
    "follower_count",
)
STORY_FACTS = (
    "kind",
    "title",
    "url",
    "body",
    "is_paywalled",
    "distribution",
    "ai_disclosure",
    "is_removed",
    "published_at",
)
AUDITED_STORY_FACTS = ("is_paywalled", "distribution", "is_removed")
PERSONAL_FACTS = ("email",)


class MirrorInvalid(Exception):
    """Items the database state makes impossible (taken handle, unknown account...):
    {item index: {field: [messages]}}. Nothing of the batch is written."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


@dataclass(frozen=True)
class MirrorResult:
    key: str  # the platform id (for follows: "follower>followee")
    status: str

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"
    DUPLICATE = "duplicate"


# --- accounts and stories ------------------------------------------------------------


@retried
def mirror_accounts(*, client: ApiClient, items: list[dict], now: datetime | None = None) -> list[MirrorResult]:
    """Create or update accounts from the platform's items (platform_id, sequence and
    any of ACCOUNT_FACTS). Confirms facts a signal left pending."""
    now = now or timezone.now()
    with transaction.atomic():
        existing = _locked_by_platform_id(Account, [item["platform_id"] for item in items])
        _check_handles(items, existing)
        plan = _FactsPlan(model=Account, facts=ACCOUNT_FACTS, audited=AUDITED_ACCOUNT_FACTS, existing=existing)
        results = plan.run(items, build=lambda item: Account(platform_id=item["platform_id"]))
        for account in plan.touched():
            _enrol(account, now=now)
        plan.write(extra_fields=["partner_enrolled_at"])
        plan.audit(client=client, verb="account.facts_changed", resource="accounts")
    return results


@retried
def mirror_stories(*, client: ApiClient, items: list[dict]) -> list[MirrorResult]:
    """Create or update stories (platform_id, sequence, author on creation, any of
    STORY_FACTS). A story never changes author."""
    with transaction.atomic():
        existing = _locked_by_platform_id(Story, [item["platform_id"] for item in items])
        authors = _accounts_by_platform_id({item["author"] for item in items if item.get("author")})
        _check_story_authors(items, existing, authors)
        plan = _FactsPlan(model=Story, facts=STORY_FACTS, audited=AUDITED_STORY_FACTS, existing=existing)
        results = plan.run(
            items, build=lambda item: Story(platform_id=item["platform_id"], author=authors[item["author"]])
        )
        _check_responses_unpaywalled(items, plan)
        plan.write()
        stories_written.send(sender=Story, story_ids=[row.pk for row in plan.touched()])
        plan.audit(client=client, verb="story.facts_changed", resource="stories")
    return results


class _FactsPlan:
    """What a batch does to accounts or stories, worked out in memory before writing."""

    def __init__(self, *, model, facts: tuple, audited: tuple, existing: dict[str, Model]):
        self.model, self.facts, self.audited, self.existing = model, facts, audited, existing
        self.created: list[Model] = []
        self.updated: dict[str, Model] = {}
        self.changed_fields: set[str] = set()
        self.events: list[dict] = []
        self.counts = dict.fromkeys(("created", "updated", "unchanged", "stale"), 0)
        self.sequences: list[int] = []

    def run(self, items: list[dict], *, build: Callable[[dict], Model]) -> list[MirrorResult]:
        return [self._one(item, build) for item in items]

    def _one(self, item: dict, build) -> MirrorResult:
        pid, seq = item["platform_id"], item["sequence"]
        row = self.existing.get(pid)
        if row is None:
            row = build(item)
            self._set(row, item)
            row.facts_version, row.facts_pending = seq, False
            self.existing[pid] = row
            self.created.append(row)
            return self._result(pid, MirrorResult.CREATED, seq)
        if row.facts_version is not None and seq < row.facts_version:
            return self._result(pid, MirrorResult.STALE)
        if row.facts_version == seq:
            return self._result(pid, MirrorResult.UNCHANGED)
        before = {name: getattr(row, name) for name in self.facts}
        changed = self._set(row, item)
        was_pending = row.facts_pending
        row.facts_version, row.facts_pending = seq, False
        if row.pk is not None:
            self.updated[pid] = row
        self._audit_change(row, before, changed, was_pending)
        status = MirrorResult.UPDATED if changed or was_pending else MirrorResult.UNCHANGED
        return self._result(pid, status, seq)

    def _set(self, row: Model, item: dict) -> list[str]:
        changed = [name for name in self.facts if name in item and getattr(row, name) != item[name]]
        for name in changed:
            setattr(row, name, item[name])
        self.changed_fields.update(changed)
        return changed

    def _audit_change(self, row: Model, before: dict, changed: list[str], was_pending: bool) -> None:
        audited = [name for name in changed if name in self.audited]
        if not audited and not was_pending:
            return
        self.events.append(
            {
                "target": row,
                "before": {**{n: before[n] for n in audited}, **({"facts_pending": True} if was_pending else {})},
                "after": {
                    **{n: getattr(row, n) for n in audited},
                    **({"facts_pending": False} if was_pending else {}),
                    "sequence": row.facts_version,
                },
            }
        )

    def _result(self, pid: str, status: str, seq: int | None = None) -> MirrorResult:
        self.counts[status] += 1
        if seq is not None:
            self.sequences.append(seq)
        return MirrorResult(pid, status)

    def touched(self) -> Iterable[Model]:
        return [*self.created, *self.updated.values()]

    def write(self, *, extra_fields: Iterable[str] = ()) -> None:
        # insert_missing sorts by platform_id, the one order in which every writer (signal
        # chunks too) takes the platform_id index, so they wait on each other, never deadlock.
        for start in range(0, len(self.created), _WRITE_BATCH):
            if insert_missing(self.model, self.created[start : start + _WRITE_BATCH]):
                raise Overtaken  # a signal's pending copy committed meanwhile: plan again as an update
        if self.updated:
            fields = sorted({*self.changed_fields, *extra_fields, "facts_version", "facts_pending", "updated_at"})
            now = timezone.now()
            for row in self.updated.values():
                row.updated_at = now
            update_rows(self.model, list(self.updated.values()), fields)

    def audit(self, *, client: ApiClient, verb: str, resource: str) -> None:
        if self.model is Account:
            _seal_personal_facts(self.events)
        record_events(actor=client.user, events=[{"verb": verb, **event} for event in self.events])
        _audit_batch(client=client, resource=resource, counts=self.counts, sequences=self.sequences)


def _seal_personal_facts(events: list[dict]) -> None:
    """A writer's email goes into the audit row sealed under their key, so retention can
    erase it without touching the row (moderation.personal_data). Keys in bulk: a batch
    changing many emails costs a few queries, not one per account."""
    private = [e for e in events if any(n in e[side] for n in PERSONAL_FACTS for side in ("before", "after"))]
    if not private:
        return
    keys = live_keys([e["target"] for e in private])
    for event in private:
        key = keys[event["target"].pk]
        for side in ("before", "after"):
            for name in PERSONAL_FACTS:
                if name in event[side]:
                    event[side][name] = seal_with(key, event[side][name])


def _audit_batch(*, client: ApiClient, resource: str, counts: dict, sequences: list[int]) -> None:
    """One summary row per batch that wrote anything; a resent batch writes none."""
    if not sequences:
        return
    record_event(
        actor=client.user,
        verb="platform.mirrored",
        target=client,
        after={"resource": resource, **counts, "sequence_min": min(sequences), "sequence_max": max(sequences)},
    )


def _enrol(account: Account, *, now: datetime) -> None:
    """A Partner Program member always has an enrolment date (database constraint)."""
    if account.partner_status == PartnerStatus.ACTIVE and account.partner_enrolled_at is None:
        account.partner_enrolled_at = now


def _locked_by_platform_id(model, platform_ids: Iterable[str]) -> dict[str, Model]:
    """The rows a batch updates, locked in id order so two batches never deadlock.

    FOR NO KEY UPDATE: a signal chunk inserting a case or signal that points at the row
    (its foreign key check takes KEY SHARE) neither waits for the batch nor deadlocks
    with it; the mirror never changes the key the foreign keys use."""
    ids = sorted(set(platform_ids))
    found: dict[str, Model] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        rows = model.objects.select_for_update(no_key=True).filter(platform_id__in=ids[start : start + _IN_CHUNK])
        rows = rows.order_by("id")
        found.update({row.platform_id: row for row in rows})
    return found


def _accounts_by_platform_id(platform_ids: Iterable[str]) -> dict[str, Account]:
    ids = sorted(set(platform_ids))
    found: dict[str, Account] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        found.update({a.platform_id: a for a in Account.objects.filter(platform_id__in=ids[start : start + _IN_CHUNK])})
    return found


def _check_handles(items: list[dict], existing: dict[str, Account]) -> None:
    """A handle belongs to one account: refuse a batch giving another account's handle."""
    errors: dict[int, dict] = {}
    wanted: dict[str, tuple[str, int]] = {}  # handle -> (platform id, first item index)
    for i, item in enumerate(items):
        handle = item.get("handle")
        if handle is None:
            if item["platform_id"] not in existing:
                errors[i] = {"handle": ["Required to create an account."]}
            continue
        owner, _ = wanted.setdefault(handle, (item["platform_id"], i))
        if owner != item["platform_id"]:
            errors[i] = {"handle": ["Another account in this batch uses this handle."]}
    handles = list(wanted)
    for start in range(0, len(handles), _IN_CHUNK):
        taken = Account.objects.filter(handle__in=handles[start : start + _IN_CHUNK])
        for pid, handle in taken.values_list("platform_id", "handle"):
            if wanted[handle][0] != pid:
                errors.setdefault(wanted[handle][1], {})["handle"] = [
                    f"@{handle} belongs to another account; update that account first."
                ]
    if errors:
        raise MirrorInvalid(errors)


def _check_story_authors(items: list[dict], existing: dict[str, Story], authors: dict[str, Account]) -> None:
    errors: dict[int, dict] = {}
    for i, item in enumerate(items):
        story, author = existing.get(item["platform_id"]), item.get("author")
        if story is None and not author:
            errors[i] = {"author": ["Required to create a story."]}
        elif author and author not in authors:
            errors[i] = {"author": [UNKNOWN.format("account", "accounts")]}
        elif story is not None and author and authors[author].pk != story.author_id:
            errors[i] = {"author": ["A story never changes author."]}
    if errors:
        raise MirrorInvalid(errors)


def _check_responses_unpaywalled(items: list[dict], plan: _FactsPlan) -> None:
    errors = {
        i: {"paywalled": ["Responses are never paywalled."]}
        for i, item in enumerate(items)
        if (row := plan.existing[item["platform_id"]]).kind == StoryKind.RESPONSE and row.is_paywalled
    }
    if errors:
        raise MirrorInvalid(errors)


# --- follow edges --------------------------------------------------------------------


@retried
def mirror_follows(*, client: ApiClient, items: list[dict]) -> list[MirrorResult]:
    """Follow and unfollow events (follower, followee, action, sequence, occurred_at).

    Follower intent wins: an unfollow of an edge a purge removed is remembered
    (`unfollowed_at`), so reversing the purge does not bring it back; a later follow
    re-activates the edge as usual."""
    with transaction.atomic():
        accounts = _accounts_by_platform_id({i["follower"] for i in items} | {i["followee"] for i in items})
        _check_edge_accounts(items, accounts)
        pairs = {(accounts[i["follower"]].pk, accounts[i["followee"]].pk) for i in items}
        edges = _locked_edges(pairs)
        plan = _EdgePlan(edges)
        results = [plan.one(item, accounts[item["follower"]], accounts[item["followee"]]) for item in items]
        plan.write()
        _audit_batch(client=client, resource="follows", counts=plan.counts, sequences=plan.sequences)
    return results


def _check_edge_accounts(items: list[dict], accounts: dict[str, Account]) -> None:
    errors: dict[int, dict] = {}
    for i, item in enumerate(items):
        for name in ("follower", "followee"):
            if item[name] not in accounts:
                errors.setdefault(i, {})[name] = [UNKNOWN.format("account", "accounts")]
        if item["follower"] == item["followee"]:
            errors.setdefault(i, {})["followee"] = ["An account cannot follow itself."]
    if errors:
        raise MirrorInvalid(errors)


def _locked_edges(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Follow]:
    by_follower: dict[int, set[int]] = {}
    for follower, followee in pairs:
        by_follower.setdefault(follower, set()).add(followee)
    followers = sorted(by_follower)
    found: dict[tuple[int, int], Follow] = {}
    for start in range(0, len(followers), _IN_CHUNK):
        chunk = followers[start : start + _IN_CHUNK]
        followees = set().union(*(by_follower[f] for f in chunk))
        rows = Follow.objects.select_for_update().filter(follower_id__in=chunk, followee_id__in=followees)
        rows = rows.order_by("id")
        found.update({(e.follower_id, e.followee_id): e for e in rows if (e.follower_id, e.followee_id) in pairs})
    return found


class _EdgePlan:
    def __init__(self, edges: dict[tuple[int, int], Follow]):
        self.edges = edges
        self.created: list[Follow] = []
        self.updated: dict[tuple[int, int], Follow] = {}
        self.counts = dict.fromkeys(("created", "updated", "unchanged", "stale", "purged_then_unfollowed"), 0)
        self.sequences: list[int] = []

    def one(self, item: dict, follower: Account, followee: Account) -> MirrorResult:
        key, seq = (follower.pk, followee.pk), item["sequence"]
        label = f"{item['follower']}>{item['followee']}"
        edge = self.edges.get(key)
        if edge is None:
            edge = Follow(follower=follower, followee=followee, created_at=item["occurred_at"], facts_version=seq)
            self._set(edge, item)
            self.edges[key] = edge
            self.created.append(edge)
            return self._result(label, MirrorResult.CREATED, seq)
        if edge.facts_version is not None and seq < edge.facts_version:
            return self._result(label, MirrorResult.STALE)
        if edge.facts_version == seq:
            return self._result(label, MirrorResult.UNCHANGED)
        changed = self._set(edge, item)
        edge.facts_version = seq
        if edge.pk is not None:
            self.updated[key] = edge
        return self._result(label, MirrorResult.UPDATED if changed else MirrorResult.UNCHANGED, seq)

    def _set(self, edge: Follow, item: dict) -> bool:
        """Apply a follow or unfollow to the edge in memory; whether it changed."""
        at = item["occurred_at"]
        if item["action"] == "follow":
            if edge.is_active and edge.unfollowed_at is None:
                return False
            edge.is_active, edge.removed_at, edge.removed_by, edge.unfollowed_at = True, None, "", None
            return True
        if edge.unfollowed_at is not None:
            return False
        if not edge.is_active and edge.removed_by:
            self.counts["purged_then_unfollowed"] += 1
        if edge.is_active:
            edge.is_active, edge.removed_at = False, at
        edge.unfollowed_at = at
        return True

    def _result(self, label: str, status: str, seq: int | None = None) -> MirrorResult:
        self.counts[status] += 1
        if seq is not None:
            self.sequences.append(seq)
        return MirrorResult(label, status)

    def write(self) -> None:
        self.created.sort(key=lambda edge: (edge.follower_id, edge.followee_id))  # the one lock order
        Follow.objects.bulk_create(self.created, batch_size=_WRITE_BATCH)
        fields = ["is_active", "removed_at", "removed_by", "unfollowed_at", "facts_version"]
        update_rows(Follow, list(self.updated.values()), fields)


# --- engagement ----------------------------------------------------------------------


@retried
def record_engagement(*, client: ApiClient, items: list[dict]) -> list[MirrorResult]:
    """Store claps, responses and reads (id, kind, actor, story and/or target,
    occurred_at, sequence, count). Immutable: an id seen before is a duplicate."""
    with transaction.atomic():
        named = {i["actor"] for i in items} | {i["target"] for i in items if i.get("target")}
        accounts = _accounts_by_platform_id(named)
        stories = _stories_by_platform_id({i["story"] for i in items if i.get("story")})
        _check_engagement(items, accounts, stories)
        known = _known_event_ids([item["id"] for item in items])
        results, new = [], []
        for item in items:
            if item["id"] in known:
                results.append(MirrorResult(item["id"], MirrorResult.DUPLICATE))
                continue
            known.add(item["id"])
            new.append(_event(item, accounts, stories))
            results.append(MirrorResult(item["id"], MirrorResult.CREATED))
        new.sort(key=lambda event: event.platform_id)  # the one lock order on the id's unique index
        EngagementEvent.objects.bulk_create(new, batch_size=_WRITE_BATCH)
        counts = {"created": len(new), "duplicate": len(items) - len(new)}
        _audit_batch(client=client, resource="engagement", counts=counts, sequences=[e.sequence for e in new])
    return results


def _stories_by_platform_id(platform_ids: Iterable[str]) -> dict[str, Story]:
    ids = sorted(set(platform_ids))
    found: dict[str, Story] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        found.update({s.platform_id: s for s in Story.objects.filter(platform_id__in=ids[start : start + _IN_CHUNK])})
    return found


def _known_event_ids(ids: list[str]) -> set[str]:
    unique = sorted(set(ids))
    known: set[str] = set()
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        known.update(EngagementEvent.objects.filter(platform_id__in=chunk).values_list("platform_id", flat=True))
    return known


def _check_engagement(items: list[dict], accounts: dict[str, Account], stories: dict[str, Story]) -> None:
    errors: dict[int, dict] = {}
    for i, item in enumerate(items):
        problems: dict[str, list[str]] = {}
        if item["actor"] not in accounts:
            problems["actor"] = [UNKNOWN.format("account", "accounts")]
        story = stories.get(item.get("story") or "")
        if item.get("story") and story is None:
            problems["story"] = [UNKNOWN.format("story", "stories")]
        target = item.get("target")
        if target and target not in accounts:
            problems["target"] = [UNKNOWN.format("account", "accounts")]
        elif story is not None and target and accounts[target].pk != story.author_id:
            problems["target"] = ["The target of engagement with a story is its author."]
        if problems:
            errors[i] = problems
    if errors:
        raise MirrorInvalid(errors)


def _event(item: dict, accounts: dict[str, Account], stories: dict[str, Story]) -> EngagementEvent:
    story = stories.get(item.get("story") or "")
    target = accounts[item["target"]] if item.get("target") else story.author
    return EngagementEvent(
        platform_id=item["id"],
        kind=item["kind"],
        actor=accounts[item["actor"]],
        target=target,
        story=story,
        count=item.get("count", 1),
        occurred_at=item["occurred_at"],
        sequence=item["sequence"],
    )

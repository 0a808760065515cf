"""An account's genuineness profile: the facts a reviewer weighs when asking "is this a
real reader or writer?", each with the points it adds to a small score and why. The
score summarises the parts; it is never a verdict. Built for many accounts at once
(one grouped query per part) so an appeal listing hundreds of purged followers stays
cheap."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from cases.models import ActionStatus, Decision, EnforcementAction, Signal
from moderation.models import Account, EngagementEvent, Story, StoryKind

HINT_KEYS = ("device", "device_id", "device_hash", "network", "ip_hash", "asn", "network_hash")
FAKE_OUTCOMES = ("account.suspend",)
RECENT = timedelta(days=90)


def _part(key: str, label: str, value: str, points: int | None, max_points: int, why: str) -> dict:
    return {"key": key, "label": label, "value": value, "points": points, "max": max_points, "why": why}


def _hints(payloads) -> set[str]:
    found = set()
    for payload in payloads:
        if not isinstance(payload, dict):
            continue
        for source in (payload, payload.get("hints") if isinstance(payload.get("hints"), dict) else {}):
            for key in HINT_KEYS:
                value = source.get(key)
                if isinstance(value, str | int) and str(value):
                    found.add(f"{key}:{value}")
    return found


def _hints_by_account(account_ids) -> dict[int, set[str]]:
    payloads = defaultdict(list)
    for account_id, payload in Signal.objects.filter(account_id__in=account_ids).values_list("account_id", "payload"):
        payloads[account_id].append(payload)
    return {pk: _hints(p) for pk, p in payloads.items()}


def _known_fake_hints(exclude: set[int]) -> dict[str, set[int]]:
    """Device/network hints of accounts whose suspension a reviewer decided and that
    stands (applied or approved, not reversed)."""
    fakes = (
        set(
            EnforcementAction.objects.filter(
                outcome__in=FAKE_OUTCOMES, status__in=(ActionStatus.APPLIED, ActionStatus.APPROVED)
            ).values_list("account_id", flat=True)
        )
        - exclude
    )
    by_hint: dict[str, set[int]] = defaultdict(set)
    if not fakes:
        return by_hint
    for pk, hints in _hints_by_account(fakes).items():
        for hint in hints:
            by_hint[hint].add(pk)
    return by_hint


def profiles(accounts: list[Account], *, now: datetime | None = None) -> dict[int, dict]:
    now = now or timezone.now()
    ids = [a.pk for a in accounts]
    stories = dict(
        Story.objects.filter(author_id__in=ids, kind=StoryKind.STORY)
        .values("author_id")
        .annotate(n=Count("id"))
        .values_list("author_id", "n")
    )
    responses = dict(
        Story.objects.filter(author_id__in=ids, kind=StoryKind.RESPONSE)
        .values("author_id")
        .annotate(n=Count("id"))
        .values_list("author_id", "n")
    )
    given = defaultdict(lambda: {"read": 0, "clap": 0, "response": 0, "events": 0, "targets": 0, "top": 0})
    per_target = defaultdict(dict)
    for row in (
        EngagementEvent.objects.filter(actor_id__in=ids, occurred_at__gte=now - RECENT)
        .values("actor_id", "target_id", "kind")
        .annotate(n=Count("id"))
    ):
        g = given[row["actor_id"]]
        g[row["kind"]] += row["n"]
        g["events"] += row["n"]
        per_target[row["actor_id"]][row["target_id"]] = per_target[row["actor_id"]].get(row["target_id"], 0) + row["n"]
    for pk, targets in per_target.items():
        given[pk]["targets"] = len(targets)
        given[pk]["top"] = max(targets.values())
    decisions = defaultdict(lambda: {"violation": 0, "none": 0})
    for account_id, is_violation, n in (
        Decision.objects.filter(case__account_id__in=ids, rejected_by=None)
        .exclude(needs_approval=True, approved_by=None)
        .values("case__account_id", "is_violation")
        .annotate(n=Count("id"))
        .values_list("case__account_id", "is_violation", "n")
    ):
        decisions[account_id]["violation" if is_violation else "none"] += n
    hints = _hints_by_account(ids)
    fake_hints = _known_fake_hints(set(ids)) if any(hints.values()) else {}
    return {a.pk: _profile(a, now, stories, responses, given, decisions, hints, fake_hints) for a in accounts}


def _profile(account, now, stories, responses, given, decisions, hints, fake_hints) -> dict:
    parts = []
    joined = account.joined_at
    age = (now - joined).days if joined else None
    if age is None:
        parts.append(_part("age", "Account age", "no data", None, 2, "the platform has not sent a join date"))
    else:
        points = 2 if age >= 90 else 1 if age >= 30 else 0
        parts.append(_part("age", "Account age", f"{age} days", points, 2, "2 from 90 days, 1 from 30 days"))
    wrote = stories.get(account.pk, 0)
    parts.append(
        _part(
            "writing",
            "Own writing",
            f"{wrote} stories",
            2 if wrote >= 5 else 1 if wrote else 0,
            2,
            "2 from 5 stories, 1 from one",
        )
    )
    g = given[account.pk]
    reads = max(g["read"], account.reads_last_30_days)
    parts.append(
        _part(
            "reading",
            "Reading",
            f"{g['read']} reads mirrored in 90 days; platform reports {account.reads_last_30_days} in 30 days",
            2 if reads >= 20 else 1 if reads >= 5 else 0,
            2,
            "2 from 20 reads, 1 from 5",
        )
    )
    wrote_responses = responses.get(account.pk, 0) + g["response"]
    parts.append(
        _part(
            "responses",
            "Responses",
            f"{wrote_responses} responses written",
            1 if wrote_responses else 0,
            1,
            "1 when the account has responded to anyone",
        )
    )
    if g["events"]:
        top_share = g["top"] / g["events"]
        points = 2 if g["targets"] >= 10 and top_share < 0.5 else 1 if g["targets"] >= 3 else 0
        value = f"{g['targets']} accounts engaged with; {top_share:.0%} of its engagement goes to the most engaged one"
    else:
        points, value = 0, "no engagement mirrored in 90 days"
    parts.append(
        _part("variety", "Variety", value, points, 2, "2 from 10 accounts with none over half; 1 from 3 accounts")
    )
    mine = hints.get(account.pk, set())
    if not mine:
        parts.append(
            _part(
                "fakes",
                "Shared device or network with known fakes",
                "no data",
                None,
                2,
                "no device or network hints in the platform's signals for this account",
            )
        )
    else:
        shared = {h: sorted(fake_hints[h]) for h in mine if h in fake_hints}
        n = len({pk for pks in shared.values() for pk in pks})
        parts.append(
            _part(
                "fakes",
                "Shared device or network with known fakes",
                f"{n} suspended accounts share {', '.join(sorted(shared)) or 'none of its hints'}",
                0 if n else 2,
                2,
                "2 when none of its device or network hints belongs to a suspended account",
            )
        )
    d = decisions[account.pk]
    parts.append(
        _part(
            "decisions",
            "Earlier decisions",
            f"{d['violation']} violations, {d['none']} no violation",
            0 if d["violation"] else 1,
            1,
            "1 when no reviewer found a violation on this account before",
        )
    )
    counted = [p for p in parts if p["points"] is not None]
    return {
        "account": {"id": account.pk, "handle": account.handle},
        "parts": parts,
        "score": sum(p["points"] for p in counted),
        "max": sum(p["max"] for p in counted),
        "no_data": [p["label"] for p in parts if p["points"] is None],
        "note": "A summary of the parts above to help a reviewer weigh them; not a verdict.",
    }


def profile(account: Account, *, now: datetime | None = None) -> dict:
    return profiles([account], now=now)[account.pk]

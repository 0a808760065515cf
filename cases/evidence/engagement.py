"""The engagement pattern around an account: who claps, reads, responds to and follows
whom, how reciprocal, how clustered, how regular in time; and whether the account sits
in a ring (a dense, reciprocal, inward-looking group). Describes, never decides.

Reads are bounded: every event touching the account is aggregated in SQL, then only
the CANDIDATES most reciprocal neighbours are examined together, so an account with
50,000 engagement edges costs a handful of grouped queries."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict

import networkx as nx
from django.db.models import Count, Q, Sum

from moderation.models import Account, EngagementEvent, Follow

CANDIDATES = 150
POOL = 5000
OUTER_SHOWN = 16
# A group is described as a ring only when all of these hold (README, "Evidence").
RING_MIN_SIZE = 5
RING_MIN_DENSITY = 0.5  # share of ordered member pairs with engagement
RING_MIN_RECIPROCITY = 0.7  # share of engaged member pairs engaged both ways
RING_MIN_INSULARITY = 0.5  # median member's share of its engagement that goes to members


def _aggregate(qs) -> dict[tuple[int, int], dict]:
    edges: dict[tuple[int, int], dict] = defaultdict(lambda: {"clap": 0, "read": 0, "response": 0, "events": 0})
    for row in qs.values("actor_id", "target_id", "kind").annotate(events=Count("id"), claps=Sum("count")):
        if row["actor_id"] == row["target_id"]:
            continue
        edge = edges[(row["actor_id"], row["target_id"])]
        edge[row["kind"]] += row["claps"] if row["kind"] == "clap" else row["events"]
        edge["events"] += row["events"]
    return edges


def _follows(qs) -> set[tuple[int, int]]:
    return set(qs.filter(is_active=True).values_list("follower_id", "followee_id"))


def _times(member_ids: set[int]) -> list:
    return list(
        EngagementEvent.objects.filter(actor_id__in=member_ids, target_id__in=member_ids)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)[:20000]
    )


def _regularity(times: list) -> dict:
    """How machine-like the group's timing is: the coefficient of variation of the gaps
    between events (1 for random arrivals, near 0 for a clock) and the share of events
    in the busiest three hours of the day (0.125 when spread evenly)."""
    if len(times) < 3:
        return {"events": len(times), "gap_cv": None, "top3_hours_share": None}
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    mean = statistics.fmean(gaps)
    cv = statistics.pstdev(gaps) / mean if mean > 0 else 0.0
    hours = Counter(t.hour for t in times)
    top3 = sum(n for _, n in hours.most_common(3)) / len(times)
    return {"events": len(times), "gap_cv": round(cv, 2), "top3_hours_share": round(top3, 2)}


def _candidates(ranked: list[int], neighbours: dict) -> list[int]:
    """The reciprocal neighbours worth examining together. When there are more than
    CANDIDATES (a popular writer answering its readers), those engaging with the most
    other reciprocal neighbours come first: one grouped query, so a ring hidden in a
    crowd of ordinary mutual readers is still examined."""
    pool = [n for n in ranked if neighbours[n]["out"] and neighbours[n]["in"]][:POOL]
    if len(pool) <= CANDIDATES:
        return pool
    inside = dict(
        EngagementEvent.objects.filter(actor_id__in=pool, target_id__in=pool)
        .values("actor_id")
        .annotate(n=Count("target_id", distinct=True))
        .values_list("actor_id", "n")
    )
    order = {n: i for i, n in enumerate(pool)}
    return sorted(pool, key=lambda n: (-inside.get(n, 0), order[n]))[:CANDIDATES]


def _densest_core_around(mutual: nx.Graph, me: int) -> set[int]:
    """The account's group: its connected part of the deepest k-core it belongs to (every
    member engages both ways with at least k others of it). A star of readers around a
    popular writer has core number 1 and gives no group; a reading club of n accounts
    that all engage each other has core number n - 1."""
    if not mutual.degree(me):
        return set()
    k = nx.core_number(mutual)[me]
    if k < 2:
        return set()
    core = nx.k_core(mutual, k)
    return set(nx.node_connected_component(core, me))


def _layout(center: int, members: list[int], outer: list[int]) -> dict[int, tuple[float, float]]:
    """Fixed positions (so the frozen picture never moves): the account in the middle,
    the group on a circle, other neighbours on a wider one."""
    pos = {center: (0.0, 0.0)}
    for ring, radius in ((members, 0.72), (outer, 1.0)):
        for i, pk in enumerate(ring):
            angle = 2 * math.pi * i / max(len(ring), 1) - math.pi / 2
            pos[pk] = (round(radius * math.cos(angle), 4), round(radius * math.sin(angle), 4))
    return pos


def engagement_pattern(account: Account) -> dict:
    """Everything the engagement evidence shows, as JSON-simple data."""
    me = account.pk
    around = _aggregate(EngagementEvent.objects.filter(Q(actor_id=me) | Q(target_id=me)))
    follows_around = _follows(Follow.objects.filter(Q(follower_id=me) | Q(followee_id=me)))
    neighbours: dict[int, dict] = defaultdict(lambda: {"out": 0, "in": 0, "follows": False, "followed_by": False})
    for (a, t), e in around.items():
        if a == me:
            neighbours[t]["out"] += e["events"]
        else:
            neighbours[a]["in"] += e["events"]
    for f, t in follows_around:
        if f == me:
            neighbours[t]["follows"] = True
        else:
            neighbours[f]["followed_by"] = True
    ranked = sorted(
        neighbours,
        key=lambda n: (
            -min(neighbours[n]["out"], neighbours[n]["in"]),
            -(neighbours[n]["out"] + neighbours[n]["in"]),
            n,
        ),
    )
    chosen = set(_candidates(ranked, neighbours)) | set(ranked[:OUTER_SHOWN]) | {me}
    inner = _aggregate(EngagementEvent.objects.filter(actor_id__in=chosen, target_id__in=chosen))
    inner_follows = _follows(Follow.objects.filter(follower_id__in=chosen, followee_id__in=chosen))

    mutual = nx.Graph()
    mutual.add_node(me)
    for (a, t), e in inner.items():
        back = inner.get((t, a))
        if back and a < t:
            mutual.add_edge(a, t, weight=min(e["events"], back["events"]))
    group = _densest_core_around(mutual, me)

    given = dict(
        EngagementEvent.objects.filter(actor_id__in=group or {me})
        .values("actor_id")
        .annotate(n=Count("id"))
        .values_list("actor_id", "n")
    )
    k = len(group)
    in_group = {pair: e for pair, e in inner.items() if pair[0] in group and pair[1] in group}
    engaged_pairs = len(in_group)
    reciprocal = sum(1 for (a, t) in in_group if (t, a) in in_group)
    given_inside: Counter = Counter()
    for (a, _t), e in in_group.items():
        given_inside[a] += e["events"]
    # Each member's share of its engagement that stays in the group; the median, so one
    # popular member (often the case account) reading widely does not hide the rest.
    shares = [given_inside[n] / given[n] for n in group if given.get(n)]
    metrics = {
        "size": k,
        "density": round(engaged_pairs / (k * (k - 1)), 2) if k > 1 else 0.0,
        "reciprocity": round(reciprocal / engaged_pairs, 2) if engaged_pairs else 0.0,
        "insularity": round(statistics.median(shares), 2) if shares else 0.0,
        "follow_density": round(sum(1 for f, t in inner_follows if f in group and t in group) / (k * (k - 1)), 2)
        if k > 1
        else 0.0,
        "clustering": round(nx.average_clustering(mutual.subgraph(group)), 2) if k > 2 else 0.0,
        "account_clustering": round(nx.clustering(mutual, me), 2),
        **_regularity(_times(group)),
    }
    checks = [
        {"label": "members", "value": k, "threshold": f"≥ {RING_MIN_SIZE}", "met": k >= RING_MIN_SIZE},
        {
            "label": "engagement density",
            "value": metrics["density"],
            "threshold": f"≥ {RING_MIN_DENSITY}",
            "met": metrics["density"] >= RING_MIN_DENSITY,
        },
        {
            "label": "reciprocity",
            "value": metrics["reciprocity"],
            "threshold": f"≥ {RING_MIN_RECIPROCITY}",
            "met": metrics["reciprocity"] >= RING_MIN_RECIPROCITY,
        },
        {
            "label": "insularity",
            "value": metrics["insularity"],
            "threshold": f"≥ {RING_MIN_INSULARITY}",
            "met": metrics["insularity"] >= RING_MIN_INSULARITY,
        },
    ]
    is_ring = all(c["met"] for c in checks)

    total_out = sum(n["out"] for n in neighbours.values())
    total_in = sum(n["in"] for n in neighbours.values())
    both_ways = [n for n in neighbours.values() if n["out"] and n["in"]]
    summary = {
        "engaged_with": sum(1 for n in neighbours.values() if n["out"]),
        "engaged_by": sum(1 for n in neighbours.values() if n["in"]),
        "events_given": total_out,
        "events_received": total_in,
        "reciprocal_accounts": len(both_ways),
        "reciprocity": round(len(both_ways) / max(1, sum(1 for n in neighbours.values() if n["out"] or n["in"])), 2),
        "follows": sum(1 for n in neighbours.values() if n["follows"]),
        "followers": sum(1 for n in neighbours.values() if n["followed_by"]),
        "mutual_follows": sum(1 for n in neighbours.values() if n["follows"] and n["followed_by"]),
        "kinds_received": {
            kind: sum(e[kind] for (a, t), e in around.items() if t == me) for kind in ("clap", "read", "response")
        },
    }

    members = sorted(group - {me}, key=lambda n: (-mutual.degree(n, weight="weight"), n))
    outer = [n for n in ranked if n not in group and n != me][:OUTER_SHOWN]
    shown = [me, *members, *outer]
    handles = dict(Account.objects.filter(pk__in=shown).values_list("pk", "handle"))
    pos = _layout(me, members, outer)
    group_out: Counter = Counter()
    group_in: Counter = Counter()
    for (a, t), e in in_group.items():
        group_out[a] += e["events"]
        group_in[t] += e["events"]
    nodes = []
    for pk in shown:
        member_given = given.get(pk, 0)
        nodes.append(
            {
                "id": pk,
                "handle": handles.get(pk, str(pk)),
                "role": "account" if pk == me else ("member" if pk in group else "neighbour"),
                "x": pos[pk][0],
                "y": pos[pk][1],
                "out": group_out[pk],
                "in": group_in[pk],
                "given_total": member_given,
                "with_account_out": neighbours[pk]["out"] if pk != me else None,
                "with_account_in": neighbours[pk]["in"] if pk != me else None,
            }
        )
    shown_set = set(shown)
    pairs: dict[tuple[int, int], dict] = {}
    for a, t in inner:
        lo, hi = min(a, t), max(a, t)
        if a in shown_set and t in shown_set and (lo, hi) not in pairs:
            ab, ba = inner.get((lo, hi), {"events": 0})["events"], inner.get((hi, lo), {"events": 0})["events"]
            pairs[(lo, hi)] = {"a": lo, "b": hi, "ab": ab, "ba": ba, "mutual": bool(ab and ba)}
    edges = list(pairs.values())
    edges.sort(key=lambda e: -(e["ab"] + e["ba"]))
    return {
        "account": {"id": me, "handle": account.handle},
        "summary": summary,
        "group": metrics,
        "checks": checks,
        "is_ring": is_ring,
        "members": [n for n in nodes if n["role"] == "member"],
        "nodes": nodes,
        "edges": edges[:800],
        "max_edge": max((e["ab"] + e["ba"] for e in edges), default=1),
    }

"""Rendering the evidence builders' frozen data: the engagement graph as SVG coordinates
and the live list of every group member's open cases (which changes; the evidence does not)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from cases.models import OPEN_CASE_STATUSES, Case

register = template.Library()

SIZE, PAD = 640, 95


def _px(v: float) -> float:
    return round(SIZE / 2 + v * (SIZE / 2 - PAD), 1)


@register.inclusion_tag("admin/cases/_engagement_svg.html")
def engagement_svg(item):
    data = item.data
    nodes = {n["id"]: {**n, "cx": _px(n["x"]), "cy": _px(n["y"])} for n in data.get("nodes", [])}
    top = max(data.get("max_edge") or 1, 1)
    edges = []
    for e in data.get("edges", []):
        a, b = nodes.get(e["a"]), nodes.get(e["b"])
        if a and b:
            weight = e["ab"] + e["ba"]
            edges.append(
                {
                    **e,
                    "x1": a["cx"],
                    "y1": a["cy"],
                    "x2": b["cx"],
                    "y2": b["cy"],
                    "width": round(0.6 + 5 * weight / top, 2),
                    "label": f"@{a['handle']} → @{b['handle']} {e['ab']}, back {e['ba']}",
                }
            )
    for n in nodes.values():
        n["label_x"] = round(n["cx"] + (n["x"] * 26), 1)
        n["label_y"] = round(n["cy"] + (n["y"] * 26) + 5, 1)
        n["rx"], n["ry"], n["ty"] = round(n["cx"] - 9, 1), round(n["cy"] - 9, 1), round(n["cy"] + 36, 1)
        n["anchor"] = "middle" if abs(n["x"]) < 0.2 else ("start" if n["x"] > 0 else "end")
    return {"item": item, "data": data, "nodes": list(nodes.values()), "edges": edges, "size": SIZE}


@register.simple_tag
def member_open_cases(item):
    """{account id: [open cases]} for the account and every group member, plus a link to
    the bulk decision page with those cases preselected."""
    ids = [item.data["account"]["id"], *(m["id"] for m in item.data.get("members", []))]
    found: dict[int, list[Case]] = {pk: [] for pk in ids}
    for case in Case.objects.filter(account_id__in=ids, status__in=OPEN_CASE_STATUSES).select_related("policy"):
        found[case.account_id].append(case)
    all_cases = [c for cases in found.values() for c in cases]
    families = {c.policy_family for c in all_cases}
    query = [("case", c.pk) for c in sorted(all_cases, key=lambda c: c.pk)]
    if len(families) == 1:
        query.insert(0, ("family", families.pop()))
    bulk = reverse("review:bulk") + "?" + urlencode(query) if all_cases else ""
    return {"by_account": found, "count": len(all_cases), "bulk_url": bulk}


@register.filter
def get_item(mapping, key):
    return mapping.get(key, []) if mapping else []


@register.simple_tag
def genuineness_profile_of(account):
    from cases.evidence.genuineness import profile

    return profile(account)

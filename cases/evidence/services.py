"""Building evidence: each builder reads the platform copy and stores what it found as an
immutable `Evidence` item on the case (hashed, audited as `evidence.added`). Builders
never change a case, an account or a story, and never propose an outcome."""

from __future__ import annotations

import hashlib
import json

from django.core.exceptions import PermissionDenied
from django.db import transaction

from cases.evidence import engagement, genuineness, similarity
from cases.models import Case, Evidence, EvidenceKind
from cases.permissions import api_client_of
from moderation.audit import record_event

SIMILARITY_CODES = ("spam.duplicate", "spam.templates", "spam.scraped", "ai.derivative_remix")
ENGAGEMENT_FAMILIES = ("engagement", "deception")
ENGAGEMENT_CODES = ("spam.brigade", "spam.promotional_interactions", "spam.automation")
BUILDERS = ("engagement", "similar", "genuineness")


def builders_for(case: Case) -> list[str]:
    """Which builders a newly opened case gets automatically."""
    code = case.policy.code if case.policy_id else ""
    wanted = ["genuineness"]
    if case.policy_family in ENGAGEMENT_FAMILIES or code in ENGAGEMENT_CODES:
        wanted.append("engagement")
    if case.story_id and code in SIMILARITY_CODES:
        wanted.append("similar")
    return wanted


def _store(*, case: Case, kind: str, title: str, body: str, data: dict, actor) -> Evidence:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    with transaction.atomic():
        evidence = Evidence(
            case=case,
            kind=kind,
            title=title[:300],
            body=body,
            data=json.loads(canonical),
            content_hash=hashlib.sha256(canonical.encode()).hexdigest(),
            added_by=actor,
        )
        evidence.save()
        record_event(
            actor=actor,
            verb="evidence.added",
            target=evidence,
            after={"kind": kind, "sha256": evidence.content_hash, "builder": True},
            case_ref=case.pk,
        )
    return evidence


def build_engagement_evidence(*, case: Case, actor=None) -> Evidence:
    data = engagement.engagement_pattern(case.account)
    g, s = data["group"], data["summary"]
    if data["is_ring"]:
        title = f"Engagement pattern: dense reciprocal group of {g['size']} accounts around @{case.account.handle}"
    else:
        title = f"Engagement pattern around @{case.account.handle}: no dense reciprocal group"
    body = (
        f"@{case.account.handle} engaged with {s['engaged_with']} accounts and was engaged by {s['engaged_by']}; "
        f"{s['reciprocal_accounts']} both ways. Group around it: {g['size']} accounts, density {g['density']}, "
        f"reciprocity {g['reciprocity']}, insularity {g['insularity']}."
    )
    return _store(case=case, kind=EvidenceKind.ENGAGEMENT_GRAPH, title=title, body=body, data=data, actor=actor)


def _story_card(story, segments, *, jaccard=None, shared_words=None) -> dict:
    return {
        "id": story.pk,
        "platform_id": story.platform_id,
        "title": story.title,
        "url": story.url,
        "author": story.author.handle,
        "author_id": story.author_id,
        "published_at": story.published_at.isoformat() if story.published_at else None,
        "jaccard": jaccard,
        "shared_words": shared_words,
        "segments": segments,
    }


def build_similarity_evidence(*, case: Case, actor=None) -> Evidence | None:
    if not case.story_id:
        return None
    story = case.story
    similarity.index_stories(story_ids=[story.pk])
    found = similarity.near_duplicates(story)
    matches = []
    for other, cmp in found:
        matches.append(
            {
                "case_story_segments": cmp["a_segments"],
                "other": _story_card(
                    other, cmp["b_segments"], jaccard=cmp["jaccard"], shared_words=cmp["shared_words"]
                ),
            }
        )
    dated = [(story.published_at, story.pk)] + [(o.published_at, o.pk) for o, _ in found]
    dated = [d for d in dated if d[0] is not None]
    original = min(dated)[1] if dated and found else None
    data = {
        "story": _story_card(story, []),
        "matches": matches,
        "likely_original": original,
        "method": {
            "shingle_words": similarity.SHINGLE,
            "num_perm": similarity.NUM_PERM,
            "bands": similarity.BANDS,
            "near_duplicate_jaccard": similarity.NEAR_DUPLICATE,
            "min_passage_words": similarity.MIN_PASSAGE_WORDS,
        },
    }
    if matches:
        title = f"Similar content: {len(matches)} near-duplicate stories"
        who = "this case's story" if original == story.pk else f"story {original}"
        body = f"Closest Jaccard {matches[0]['other']['jaccard']}; earliest published (likely original): {who}."
    else:
        title, body = (
            "Similar content: no near-duplicate stories",
            "No story on the platform copy reaches the threshold.",
        )
    return _store(case=case, kind=EvidenceKind.SIMILAR_CONTENT, title=title, body=body, data=data, actor=actor)


def build_genuineness_evidence(*, case: Case, actor=None) -> Evidence:
    data = genuineness.profile(case.account)
    title = f"Genuineness profile of @{case.account.handle}: {data['score']} of {data['max']}"
    body = "; ".join(f"{p['label']}: {p['value']}" for p in data["parts"])
    return _store(case=case, kind=EvidenceKind.GENUINENESS, title=title, body=body, data=data, actor=actor)


_BUILD = {
    "engagement": build_engagement_evidence,
    "similar": build_similarity_evidence,
    "genuineness": build_genuineness_evidence,
}


def build_evidence(*, case_id: int, builders: list[str] | None = None, actor=None) -> list[Evidence]:
    case = Case.objects.select_related("account", "story__author", "policy").get(pk=case_id)
    built = []
    for name in builders if builders is not None else builders_for(case):
        evidence = _BUILD[name](case=case, actor=actor)
        if evidence is not None:
            built.append(evidence)
    return built


def can_request_evidence(user) -> bool:
    """Staff with review rights (not API clients) may ask for a fresh build."""
    return (
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and api_client_of(user) is None
        and user.has_perm("cases.review_case")
    )


def request_evidence(*, user, case: Case, builder: str) -> None:
    """A reviewer asks for a fresh build from the case page; it runs as a job."""
    from cases.evidence.jobs import build_evidence_job
    from moderation.jobs import enqueue

    if builder not in BUILDERS:
        raise ValueError(f"Unknown builder {builder!r}")
    if not can_request_evidence(user):
        raise PermissionDenied("You may not request evidence on this case.")
    enqueue(build_evidence_job, case.pk, [builder], user.pk)

"""Jobs of the evidence builders; ids in, one service call each."""

from __future__ import annotations


def build_evidence_job(case_id: int, builders: list[str] | None = None, user_id: int | None = None) -> None:
    from django.contrib.auth import get_user_model

    from cases.evidence.services import build_evidence

    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    build_evidence(case_id=case_id, builders=builders, actor=actor)


def index_stories_job(story_ids: list[int]) -> None:
    from cases.evidence.similarity import index_stories

    for start in range(0, len(story_ids), 2000):
        index_stories(story_ids=story_ids[start : start + 2000])

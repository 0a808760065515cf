"""Hooks: evidence is built when a case opens, and the near-duplicate index follows
stories as intake and the platform mirror write them. Both only enqueue (after commit)."""

from __future__ import annotations

from moderation.jobs import enqueue


def build_on_case_opened(sender, instance, created, **kwargs):
    if created:
        from cases.evidence.jobs import build_evidence_job

        enqueue(build_evidence_job, instance.pk)


def index_written_stories(sender, story_ids, **kwargs):
    if story_ids:
        from cases.evidence.jobs import index_stories_job

        enqueue(index_stories_job, sorted(story_ids))

"""Evidence rows intake writes: the frozen snapshot of a case's subject, and one
row per signal on its case's timeline."""

from __future__ import annotations

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder

from cases.models import Case, Evidence, EvidenceKind, Signal
from moderation.models import SignalSource


def content_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_snapshot(*, case: Case) -> Evidence | None:
    """Freeze what the reviewer judges: the story (or, for account cases, the profile)
    as the mirror holds it now. Taken once per case, when its first signal arrives."""
    if case.evidence.filter(kind=EvidenceKind.SNAPSHOT).exists():
        return None
    snapshot = snapshot_evidence(case)
    snapshot.save()
    return snapshot


def snapshot_evidence(case: Case) -> Evidence:
    """The snapshot row (unsaved), taken from the mirror copies as they are in memory now."""
    if case.story_id:
        data, title, body = _story_snapshot(case)
    else:
        data, title, body = _profile_snapshot(case)
    return Evidence(
        case=case, kind=EvidenceKind.SNAPSHOT, title=title[:300], body=body, data=data, content_hash=content_hash(data)
    )


def _story_snapshot(case: Case) -> tuple[dict, str, str]:
    story = case.story
    data = {
        "platform_id": story.platform_id,
        "author": case.account.handle,
        "kind": story.kind,
        "title": story.title,
        "url": story.url,
        "body": story.body,
        "is_paywalled": story.is_paywalled,
        "distribution": story.distribution,
        "ai_disclosure": story.ai_disclosure,
        "published_at": story.published_at.isoformat() if story.published_at else None,
    }
    return data, f"Snapshot of “{story.title or story.platform_id}”", story.body


def _profile_snapshot(case: Case) -> tuple[dict, str, str]:
    account = case.account
    data = {
        "platform_id": account.platform_id,
        "handle": account.handle,
        "display_name": account.display_name,
        "status": account.status,
        "partner_status": account.partner_status,
        "follower_count": account.follower_count,
        "story_count": account.story_count,
        "reads_last_30_days": account.reads_last_30_days,
        "joined_at": account.joined_at.isoformat() if account.joined_at else None,
    }
    return data, f"Snapshot of @{account.handle}", ""


def signal_evidence(case: Case, signal: Signal) -> Evidence:
    """The evidence row (unsaved) a signal puts on its case's timeline."""
    return Evidence(case=case, kind=EvidenceKind.SIGNAL, signal=signal, **signal_evidence_content(signal))


def signal_evidence_values(case: Case, signal) -> dict:
    """The same row as column values ({attname: value}), for setwise.insert_values;
    `signal` is a Signal or a chunk's SignalRow, already inserted."""
    return {"case_id": case.pk, "kind": EvidenceKind.SIGNAL, "signal_id": signal.pk, **signal_evidence_content(signal)}


def signal_evidence_content(signal) -> dict:
    """Title, body and data of a signal's evidence row."""
    if signal.source == SignalSource.DETECTOR:
        title = f"{signal.detector_name} {signal.detector_version}: {signal.policy.code}"
        if signal.score is not None:
            title += f" (score {signal.score:.2f})"
    elif signal.reporter_id:
        title = f"{signal.get_source_display()} from @{signal.reporter.handle}"
    else:
        title = signal.get_source_display()
    return {
        "title": title[:300],
        "body": signal.reason,
        "data": {
            "source": signal.source,
            "policy": signal.policy.code if signal.policy else None,
            "detector": {"name": signal.detector_name, "version": signal.detector_version}
            if signal.detector_name
            else None,
            "score": signal.score,
            "observed_at": signal.observed_at.isoformat(),
        },
    }

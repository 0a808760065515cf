"""What the API (or the demo) hands the intake services, and what they answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from moderation.models import Policy, SignalSource

READER_FAMILY = "reader"
"""Family of cases opened by 'show less' alone: a quality signal that names no rule."""

DEFAULT_REPORT_POLICY = "ai.paywalled_generated"
"""The platform's 'Report story' button is for paywalled AI content (POLICY.md)."""

HUMAN_SOURCES = frozenset({SignalSource.READER_REPORT, SignalSource.SHOW_LESS, SignalSource.STAFF})
READER_SOURCES = (SignalSource.READER_REPORT, SignalSource.SHOW_LESS)


@dataclass
class SignalIn:
    """One validated signal, as the API (or the demo) hands it to the service."""

    idempotency_key: str
    source: str
    account: str
    story: str | None = None
    reporter: str | None = None
    reason: str = ""
    account_data: dict | None = None
    story_data: dict | None = None
    policy: Policy | None = None
    detector_name: str = ""
    detector_version: str = ""
    score: float | None = None
    payload: dict = field(default_factory=dict)
    proposed_outcomes: list[str] = field(default_factory=list)
    observed_at: datetime | None = None


@dataclass(frozen=True)
class IngestResult:
    status: str  # "stored" or "duplicate"
    signal_id: int
    case_id: int | None
    warnings: dict = field(default_factory=dict)  # {"account_data.email": "ignored: ..."}

    STORED = "stored"
    DUPLICATE = "duplicate"

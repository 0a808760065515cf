"""The case priority formula, one pure function so it can be documented and tested.

    priority = 100 × severity                      (policy severity 1..4; 1 when no policy)
             + 60 × log2(1 + Σ reliability)        (one term per distinct reader, weight 0..1)
             + 100 × max detector score            (0..1)
             + 25 × log10(1 + followers)           (reach: 10k followers ≈ 100)
             + 50 if a Partner Program member      (money at stake)
             + urgency                             (0 → 100 as the SLA nears within 72 h; 150 once breached)

Higher is reviewed first. Recomputed on every new signal (cases.services.intake).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

SEVERITY_WEIGHT = 100
REPORTER_WEIGHT = 60
DETECTOR_WEIGHT = 100
REACH_WEIGHT = 25
PARTNER_BONUS = 50
URGENCY_WEIGHT = 100
URGENCY_HORIZON_HOURS = 72
BREACHED_URGENCY = 150


def urgency(*, sla_due_at: datetime, now: datetime) -> float:
    hours_left = (sla_due_at - now).total_seconds() / 3600
    if hours_left <= 0:
        return BREACHED_URGENCY
    return URGENCY_WEIGHT * max(0.0, 1 - hours_left / URGENCY_HORIZON_HOURS)


def compute_priority(
    *,
    severity: int,
    reporter_reliabilities: Iterable[float],
    max_detector_score: float | None,
    follower_count: int,
    is_partner: bool,
    sla_due_at: datetime,
    now: datetime,
) -> int:
    reporters = sum(min(max(r, 0.0), 1.0) for r in reporter_reliabilities)
    score = (
        SEVERITY_WEIGHT * severity
        + REPORTER_WEIGHT * math.log2(1 + reporters)
        + DETECTOR_WEIGHT * (max_detector_score or 0.0)
        + REACH_WEIGHT * math.log10(1 + max(follower_count, 0))
        + (PARTNER_BONUS if is_partner else 0)
        + urgency(sla_due_at=sla_due_at, now=now)
    )
    return round(score)

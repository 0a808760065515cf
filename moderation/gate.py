"""The four-eyes rule the database holds too (cases/migrations/0004_gate_four_eyes_triggers).

One function, `protected_reasons`, says which decisions need a second person whatever
the reviewer thinks: a severe outcome, or any non-warning outcome on a Partner Program
member or an account above the follower threshold, or anything at all on an account
whose facts the platform has not confirmed (a signal's word is not a fact). The
services add their own, stricter reasons (harsher than the rule's default); the
triggers and the enforcement job hold this part.

Severity and the threshold live in rows (`OutcomeKind`, `GateSetting`) because the
triggers must read them; `sync_gate_data` copies them from the code and settings after
every migrate, and Python reads the same rows, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

FOUR_EYES_THRESHOLD_KEY = "four_eyes_follower_threshold"


def four_eyes_follower_threshold() -> int:
    """The threshold the database enforces (falls back to settings before the first migrate)."""
    from moderation.models import GateSetting

    value = GateSetting.objects.filter(key=FOUR_EYES_THRESHOLD_KEY).values_list("value", flat=True).first()
    return settings.MODERATION["FOUR_EYES_FOLLOWER_THRESHOLD"] if value is None else value


def severe_outcomes() -> frozenset[str]:
    from moderation.models import SEVERE_OUTCOMES

    return frozenset(str(o) for o in SEVERE_OUTCOMES)


def protected_reasons(account, outcomes: Iterable[str], *, threshold: int | None = None) -> list[str]:
    """Why a decision with these outcomes on this account needs a second person.
    `threshold`: the follower threshold when the caller already read it (lists)."""
    from moderation.models import Outcome, PartnerStatus

    outcomes = [str(o) for o in outcomes]
    if not outcomes:
        return []
    reasons = []
    labels = dict(Outcome.choices)
    severe = sorted(labels.get(o, o) for o in outcomes if o in severe_outcomes() or o not in labels)
    if severe:
        reasons.append("severe outcome: " + ", ".join(severe))
    if account.facts_pending:
        reasons.append("the account's facts are not confirmed by the platform yet")
    if any(o != "warning" for o in outcomes):
        threshold = four_eyes_follower_threshold() if threshold is None else threshold
        if account.follower_count > threshold:
            reasons.append(f"account has more than {threshold:,} followers")
        if account.partner_status == PartnerStatus.ACTIVE:
            reasons.append("account is a Partner Program member")
    return reasons


def sync_gate_data(sender=None, using="default", **kwargs):
    """post_migrate: the rows the triggers read follow the code and the settings."""
    from moderation.models import GateSetting, Outcome, OutcomeKind

    if sender is not None and getattr(sender, "label", None) != "moderation":
        return

    severe = severe_outcomes()
    for outcome in Outcome:
        OutcomeKind.objects.using(using).update_or_create(
            code=outcome.value, defaults={"is_severe": outcome.value in severe}
        )
    OutcomeKind.objects.using(using).exclude(code__in=Outcome.values).delete()
    GateSetting.objects.using(using).update_or_create(
        key=FOUR_EYES_THRESHOLD_KEY, defaults={"value": settings.MODERATION["FOUR_EYES_FOLLOWER_THRESHOLD"]}
    )

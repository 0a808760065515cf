"""Strikes: a violation decision's mark on the account's standing, and the catalogue's
escalation proposal the moderator followed or overrode.

A strike lives from `issued_at` to `expires_at` (the rule's `strike_days`) unless voided
(the decision was overturned on appeal, reversed, or superseded on re-review). Live
strikes of one policy family within the rule's escalation window pick the next step of
its escalation ladder. Services: cases.services.strikes; reads: cases.selectors.strikes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from moderation.models import Severity


class Strike(models.Model):
    """One violation decision's strike against the account. Never deleted: voiding keeps
    the row (and its audit trail) and stops it counting."""

    account = models.ForeignKey("moderation.Account", on_delete=models.PROTECT, related_name="strikes")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="strikes")
    decision = models.ForeignKey("cases.Decision", on_delete=models.PROTECT, related_name="strikes")
    policy = models.ForeignKey(
        "moderation.Policy", on_delete=models.PROTECT, related_name="+", help_text="The rule and version broken."
    )
    family = models.CharField(max_length=32, help_text="The policy family, copied so escalation reads one table.")
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    void_reason = models.TextField(blank=True)
    # The decision's verdict, copied so the database can refuse a strike for a decision
    # that found no violation: a composite foreign key (decision_id, decision_is_violation)
    # → Decision (id, is_violation) keeps the copy true (migration 0015), the check below
    # keeps it a violation. A write that bypasses the service still cannot get one in.
    decision_is_violation = models.BooleanField(default=True, editable=False)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["decision"], name="strike_one_per_decision"),
            models.CheckConstraint(condition=Q(decision_is_violation=True), name="strike_only_for_a_violation"),
            models.CheckConstraint(condition=Q(expires_at__gt=F("issued_at")), name="strike_expires_after_issue"),
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True, void_reason="") | (Q(voided_at__isnull=False) & ~Q(void_reason="")),
                name="strike_void_has_reason",
            ),
        ]
        indexes = [
            # The live strikes of an account (status page, notices) and of one family (escalation).
            models.Index(fields=["account", "expires_at"], condition=Q(voided_at__isnull=True), name="strike_live"),
            models.Index(
                fields=["account", "family", "issued_at"],
                condition=Q(voided_at__isnull=True),
                name="strike_live_family",
            ),
        ]

    def __str__(self):
        return f"Strike on {self.account} for {self.policy}"

    def is_live(self, now) -> bool:
        return self.voided_at is None and self.expires_at > now


class StrikeProposal(models.Model):
    """What the catalogue's escalation proposed when a violation was decided, and what
    the moderator chose. A milder choice than the proposal carries its reason."""

    decision = models.OneToOneField("cases.Decision", on_delete=models.PROTECT, related_name="strike_proposal")
    policy = models.ForeignKey(
        "moderation.Policy", on_delete=models.PROTECT, related_name="+", help_text="The version whose ladder was used."
    )
    live_strikes = models.PositiveIntegerField(help_text="Live strikes of the family within the window, then.")
    counted_strike_ids = models.JSONField(default=list, blank=True)
    step = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Ladder step used (0 = first).")
    proposed_outcomes = models.JSONField(default=list)
    chosen_outcomes = models.JSONField(default=list)
    followed = models.BooleanField()
    is_milder = models.BooleanField(help_text="The chosen outcomes are milder than the proposal.")
    override_reason = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_milder=False) | ~Q(override_reason=""), name="strike_proposal_milder_has_reason"
            ),
        ]

    def __str__(self):
        return f"Escalation proposal for decision #{self.decision_id}"

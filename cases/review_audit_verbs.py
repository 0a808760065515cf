"""Audit verbs of the review side: claiming, deciding, approving, enforcing, notices.
Kept apart from cases/audit_verbs.py (intake's) so both can grow without clashes."""

from moderation.audit import register_verb

REVIEW_VERBS = {
    "case.review_started": "{actor} started reviewing {target}",
    "case.released": "{actor} put {target} back in its queue",
    "case.skipped": "{actor} skipped {target}: {reason}",
    "case.escalated": "{actor} escalated {target}: {reason}",
    "case.assigned": "{actor} assigned {target}: {reason}",
    "case.awaiting_approval": "{actor} decided {target}; a senior moderator must approve",
    "case.decided": "{actor} decided {target}",
    "case.dismissed": "{actor} closed {target}: no violation",
    "case.reopened": "{actor} sent {target} back for a new decision: {reason}",
    "decision.recorded": "{actor} recorded {target}",
    "decision.approved": "{actor} approved {target}",
    "decision.rejected": "{actor} did not approve {target}: {reason}",
    "action.approved": "{actor} approved {target}",
    "action.awaiting_approval": "{actor} proposed {target}, awaiting a second approval",
    "action.rejected": "{actor} rejected {target}",
    "action.applied": "{actor} applied {target}",
    "action.failed": "{target} failed: {reason}",
    "action.retried": "{actor} retried {target}",
    "action.reversal_requested": "{actor} asked to reverse {target}: {reason}",
    "action.reversed": "{actor} reversed {target}",
    "action.attempt_failed": "{target} failed, will retry: {reason}",
    "action.reversal_failed": "Reversing {target} failed, gave up: {reason}",
    "action.reversal_retried": "{actor} retried reversing {target}: {reason}",
    "action.withdrawn": "{actor} withdrew {target}: {reason}",
    "decision.superseded_earlier": "{target} superseded the earlier decisions on its case",
    "notice.issued": "{actor} issued {target} (its email is queued)",
    "notice.sent": "{actor} sent {target} (the email backend accepted it)",
}

for _verb, _template in REVIEW_VERBS.items():
    register_verb(_verb, _template)

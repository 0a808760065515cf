"""Audit verbs of the supervision area, registered once at startup."""

from moderation.audit import register_verb

SUPERVISION_VERBS = {
    "audit.chain_verified": "{actor} ran the audit chain check: {target}",
    "qa.rule_saved": "{actor} set QA sampling: {target}",
    "qa.golden_saved": "{actor} saved {target} with its known answer",
    "qa.sampled": "{actor} drew {target} into the QA queue",
    "qa.golden_mixed_in": "{actor} mixed {target} into the QA queue",
    "qa.reviewed": "{actor} gave a blind second decision on {target}",
    "qa.settled": "{actor} settled the QA disagreement on {target}: {reason}",
    "recall.drafted": "{actor} drafted a plan for the {target}",
    "recall.resumed": "{actor} resumed the {target}",
    "recall.started": "{actor} started the {target}: {reason}",
    "recall.running": "{actor}'s {target} is running",
    "case.requeued_for_review": "{actor} sent {target} back to its queue for a fresh human decision: {reason}",
    "recall.finished": "{actor} finished the {target}",
    "recall.failed": "{actor} could not finish the {target}: {reason}",
    "retention.rule_saved": "{actor} changed {target}",
    "retention.purged": "{actor} deleted data past its time under {target}: {reason}",
    "retention.pruned": "{actor} deleted finished background work under {target}: {reason}",
}

for _verb, _template in SUPERVISION_VERBS.items():
    register_verb(_verb, _template)

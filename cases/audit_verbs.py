"""Audit verbs of the intake side of cases (signals, case opening, evidence, muting)."""

from moderation.audit import register_verb

INTAKE_VERBS = {
    "signal.received": "{actor} sent a signal ({target})",
    "signals.received": "{actor} sent signals on {target}",
    "signal.set_aside": "{actor}'s signal was set aside: {reason}",
    "case.opened": "{actor} opened {target}",
    "case.priority_recomputed": "{actor} recomputed the priority of {target}",
    "case.action_proposed": "{actor} proposed {target}",
    "evidence.added": "{actor} added {target}",
    "reporter.muted": "{actor} muted reporter {target}: {reason}",
    "reporter.unmuted": "{actor} unmuted reporter {target}",
    "reporter.standing_settled": "{actor} settled the reporters' standing after {target}",
    "routing_rule.saved": "{actor} saved routing rule {target}",
    "queue.saved": "{actor} saved queue {target}",
    "account.facts_ignored": "{actor}'s signals tried to change platform facts of {target}: ignored",
}

for _verb, _template in INTAKE_VERBS.items():
    register_verb(_verb, _template)

"""Audit verbs of detector verdicts following the final word (cases.services.verdicts)."""

from moderation.audit import register_verb

VERDICT_VERBS = {
    "detector_verdict.revised": "{actor} revised {target} by the final word: {reason}",
    "detector_verdict.superseded": "{actor} superseded {target}: {reason}",
}

for _verb, _template in VERDICT_VERBS.items():
    register_verb(_verb, _template)

"""Audit verbs of the platform mirror."""

from moderation.audit import register_verb

MIRROR_VERBS = {
    "account.facts_changed": "{actor} changed platform facts of {target}",
    "story.facts_changed": "{actor} changed platform facts of {target}",
    "platform.mirrored": "{actor} mirrored a batch of platform facts",
}

for _verb, _template in MIRROR_VERBS.items():
    register_verb(_verb, _template)

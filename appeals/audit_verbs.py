"""Audit verbs for appeals, registered once so old rows stay explainable."""

from moderation.audit import register_verb

VERBS = {
    "appeal.submitted": "{actor} filed {target}",
    "appeal.review_started": "{actor} started reviewing {target}",
    "appeal.upheld": "{actor} upheld the decision in {target}",
    "appeal.overturned": "{actor} overturned the decision in {target}",
    "appeal.partially_overturned": "{actor} partially overturned the decision in {target}",
    "appeal.restoration_completed": "{actor} recorded that the restoration for {target} finished",
    "appeal.followers_restored": "{actor} restored the appellant's follows for {target}: {reason}",
    "notice.reversal_sent": "{actor} told the writer about reversed actions: {target}",
}


def register() -> None:
    for verb, template in VERBS.items():
        register_verb(verb, template)

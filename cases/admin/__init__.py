"""Case admin, one module per area: intake (cases, signals, evidence, queues) and
review (decisions, actions, the review page)."""

from cases.admin import canned, intake, review, strikes  # noqa: F401

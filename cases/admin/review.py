"""Admin for decisions, enforcement actions and the review workflow."""

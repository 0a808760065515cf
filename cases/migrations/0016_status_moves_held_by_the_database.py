"""Case and action statuses move only as their transition tables allow, held by the
database too (cases.services.review.CASE_FLOW with requeue's moves, and
cases.services.enforcement.ACTION_FLOW): a raw UPDATE, or a service that skipped
moderation.transitions, cannot reopen a dismissed action or un-decide a case.

The moves are a copy of the tables as of this migration; tests/moderation/
test_status_moves.py fails when a table changes without a migration that follows it."""

from django.db import migrations

from moderation.dbtriggers import drop_status_moves, execute_for_vendor, status_moves

CASE_MOVES = [
    ("awaiting_approval", "decided"),
    ("awaiting_approval", "open"),
    ("decided", "open"),
    ("dismissed", "open"),
    ("escalated", "awaiting_approval"),
    ("escalated", "decided"),
    ("escalated", "dismissed"),
    ("escalated", "in_review"),
    ("escalated", "open"),
    ("in_review", "awaiting_approval"),
    ("in_review", "decided"),
    ("in_review", "dismissed"),
    ("in_review", "escalated"),
    ("in_review", "open"),
    ("open", "awaiting_approval"),
    ("open", "decided"),
    ("open", "dismissed"),
    ("open", "escalated"),
    ("open", "in_review"),
]
ACTION_MOVES = [
    ("applied", "reversed"),
    ("approved", "applied"),
    ("approved", "failed"),
    ("approved", "rejected"),
    ("awaiting_approval", "approved"),
    ("awaiting_approval", "rejected"),
    ("failed", "approved"),
    ("failed", "rejected"),
    ("proposed", "approved"),
    ("proposed", "awaiting_approval"),
    ("proposed", "rejected"),
]
GUARDED = {"cases_case": CASE_MOVES, "cases_enforcementaction": ACTION_MOVES}


def guard(apps, schema_editor):
    for table, pairs in GUARDED.items():
        postgresql, sqlite = status_moves(table=table, pairs=pairs)
        execute_for_vendor(schema_editor, postgresql=postgresql, sqlite=sqlite)


def unguard(apps, schema_editor):
    for table in GUARDED:
        postgresql, sqlite = drop_status_moves(table=table)
        execute_for_vendor(schema_editor, postgresql=postgresql, sqlite=sqlite)


class Migration(migrations.Migration):
    dependencies = [("cases", "0015_strike_only_for_a_violation")]

    operations = [migrations.RunPython(guard, unguard)]

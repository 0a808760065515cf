"""An appeal's status moves only as appeals.services allows (START_REVIEW, then
DECISION_TRANSITIONS), held by the database too: an upheld appeal cannot be turned into
an overturned one by a raw UPDATE, which would skip the reversals an overturn runs.

A copy of the tables as of this migration; tests/moderation/test_status_moves.py fails
when they change without a migration that follows them."""

from django.db import migrations

from moderation.dbtriggers import drop_status_moves, execute_for_vendor, status_moves

APPEAL_MOVES = [
    ("in_review", "overturned"),
    ("in_review", "partially_overturned"),
    ("in_review", "upheld"),
    ("submitted", "in_review"),
]


def guard(apps, schema_editor):
    postgresql, sqlite = status_moves(table="appeals_appeal", pairs=APPEAL_MOVES)
    execute_for_vendor(schema_editor, postgresql=postgresql, sqlite=sqlite)


def unguard(apps, schema_editor):
    postgresql, sqlite = drop_status_moves(table="appeals_appeal")
    execute_for_vendor(schema_editor, postgresql=postgresql, sqlite=sqlite)


class Migration(migrations.Migration):
    dependencies = [("appeals", "0006_magic_link_requests")]

    operations = [migrations.RunPython(guard, unguard)]

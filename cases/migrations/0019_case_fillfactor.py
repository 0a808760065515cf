"""Room on each cases_case page for the next version of its rows: intake rewrites a
case's counts and priority with every chunk of signals that joins it, and an UPDATE
that finds room on the row's page and changes no indexed column (HOT) writes none of
the table's 16 indexes. With full pages (fillfactor 100) a fifth of those updates went
to another page and into every index; at 70 one in twelve. New pages only: existing
ones keep their rows until rewritten. PostgreSQL only."""

from django.db import migrations


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE cases_case SET (fillfactor = 70)")


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE cases_case RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0018_signal_evidence_indexes_they_use"),
    ]

    operations = [migrations.RunPython(leave_room, fill_pages)]

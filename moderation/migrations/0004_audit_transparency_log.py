"""The audit log as a transparency log: writers insert rows with the chain columns empty,
the sequencer fills them (seq, prev_hash, hash) once, after commit. The triggers allow
exactly that update and refuse every other UPDATE, every DELETE (row and statement level)
and TRUNCATE. Rows chained under the old scheme (an advisory lock per write) are
unchained here, so the sequencer chains them again, in id order, with the new encoding.
`hash` loses its unique index: `seq` orders the chain, and one index less is one less
write per chained row. A column added to the table later must join the triggers' lists."""

from django.conf import settings
from django.db import migrations, models

from moderation.dbtriggers import execute_for_vendor

PG_GUARD = """
CREATE OR REPLACE FUNCTION moderation_audit_chain_fill_only() RETURNS trigger AS $$
BEGIN
    IF OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
       AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
       AND (NEW.id, NEW.occurred_at, NEW.actor_id, NEW.actor_label, NEW.verb, NEW.target_type, NEW.target_id,
            NEW.target_label, NEW.case_ref, NEW.appeal_ref, NEW."before", NEW."after", NEW.reason)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.occurred_at, OLD.actor_id, OLD.actor_label, OLD.verb, OLD.target_type, OLD.target_id,
            OLD.target_label, OLD.case_ref, OLD.appeal_ref, OLD."before", OLD."after", OLD.reason)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'moderation_auditevent is append-only (UPDATE refused: only the sequencer fills the chain columns of an unchained event, once)';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS moderation_auditevent_no_update ON moderation_auditevent;
CREATE TRIGGER moderation_auditevent_no_update BEFORE UPDATE ON moderation_auditevent
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_chain_fill_only();
CREATE TRIGGER moderation_auditevent_no_delete_statement BEFORE DELETE ON moderation_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_append_only();
CREATE TRIGGER moderation_auditevent_no_truncate BEFORE TRUNCATE ON moderation_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_append_only();
"""
PG_UNGUARD = """
DROP TRIGGER IF EXISTS moderation_auditevent_no_truncate ON moderation_auditevent;
DROP TRIGGER IF EXISTS moderation_auditevent_no_delete_statement ON moderation_auditevent;
DROP TRIGGER IF EXISTS moderation_auditevent_no_update ON moderation_auditevent;
DROP FUNCTION IF EXISTS moderation_audit_chain_fill_only();
CREATE TRIGGER moderation_auditevent_no_update BEFORE UPDATE ON moderation_auditevent
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_append_only();
"""
_SAME = " AND ".join(
    f'NEW."{column}" IS OLD."{column}"'
    for column in (
        "id", "occurred_at", "actor_id", "actor_label", "verb", "target_type", "target_id", "target_label",
        "case_ref", "appeal_ref", "before", "after", "reason",
    )
)
SQLITE_GUARD = [
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_delete;",
    "CREATE TRIGGER moderation_auditevent_no_update BEFORE UPDATE ON moderation_auditevent "
    "WHEN NOT (OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL "
    "AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL AND " + _SAME + ") "
    "BEGIN SELECT RAISE(ABORT, 'moderation_auditevent is append-only (UPDATE refused: only the sequencer "
    "fills the chain columns of an unchained event, once)'); END;",
    "CREATE TRIGGER moderation_auditevent_no_delete BEFORE DELETE ON moderation_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'moderation_auditevent is append-only (DELETE refused)'); END;",
]
SQLITE_UNGUARD = [
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_delete;",
]
PG_OLD_UNGUARD = """
DROP TRIGGER IF EXISTS moderation_auditevent_no_update ON moderation_auditevent;
"""


def lift_old_update_guard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_OLD_UNGUARD, sqlite=SQLITE_UNGUARD)


def unchain_existing_rows(apps, schema_editor):
    schema_editor.execute("UPDATE moderation_auditevent SET prev_hash = NULL, hash = NULL")


def guard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_GUARD, sqlite=SQLITE_GUARD)


def unguard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_UNGUARD, sqlite=SQLITE_UNGUARD)


def _sqlite_legacy_alter_table(flag):
    """As in 0003: SQLite rebuilds the table to change a column; triggers elsewhere naming
    tables make the final rename fail unless legacy ALTER TABLE semantics are on."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f"PRAGMA legacy_alter_table = {flag}")

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0003_platform_facts_and_scopes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(lift_old_update_guard, guard),
        migrations.RunPython(_sqlite_legacy_alter_table("ON"), _sqlite_legacy_alter_table("OFF")),
        migrations.CreateModel(
            name='AuditSequencer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ran_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name='auditevent',
            name='seq',
            field=models.PositiveBigIntegerField(blank=True, help_text='Position in the chain, given by the sequencer (1, 2, ...).', null=True, unique=True),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.RunPython(unchain_existing_rows, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('seq__isnull', True)), fields=['id'], name='auditevent_awaiting_chain'),
        ),
        migrations.AddConstraint(
            model_name='auditevent',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('hash__isnull', True), ('prev_hash__isnull', True), ('seq__isnull', True)), models.Q(('hash__isnull', False), ('prev_hash__isnull', False), ('seq__gte', 1)), _connector='OR'), name='auditevent_chain_columns_together'),
        ),
        migrations.RunPython(_sqlite_legacy_alter_table("OFF"), _sqlite_legacy_alter_table("ON")),
        migrations.RunPython(guard, unguard),
    ]

"""The chain moves out of the audit table into a narrow side table, so integrating an event
is one INSERT of (seq, event_id, hash) instead of an UPDATE that rewrote every index of the
wide audit row (and left a dead tuple behind). With that, an audit row is never updated
after it is written: the UPDATE guard on it is absolute again, row and statement level.
Chain entries are append-only the same way. Events still waiting for the sequencer are
listed in AuditPending, its work queue. Existing data moves: chained rows become chain
entries with the same seq and hash (so heads already signed still verify), unchained rows
are queued. `prev_hash` is not kept: it is always the previous entry's hash."""

import django.db.models.deletion
from django.db import migrations, models

from moderation.dbtriggers import execute_for_vendor

GENESIS_HASH = "0" * 64

PG_LIFT_FILL_ONLY = """
DROP TRIGGER IF EXISTS moderation_auditevent_no_update ON moderation_auditevent;
DROP FUNCTION IF EXISTS moderation_audit_chain_fill_only();
"""
# As in 0004, for going back.
PG_FILL_ONLY = """
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
CREATE TRIGGER moderation_auditevent_no_update BEFORE UPDATE ON moderation_auditevent
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_chain_fill_only();
"""
_SAME = " AND ".join(
    f'NEW."{column}" IS OLD."{column}"'
    for column in (
        "id", "occurred_at", "actor_id", "actor_label", "verb", "target_type", "target_id", "target_label",
        "case_ref", "appeal_ref", "before", "after", "reason",
    )
)
SQLITE_FILL_ONLY = [
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
SQLITE_LIFT = [
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_delete;",
]

# moderation_audit_append_only() comes from 0002; the events' statement-level DELETE and
# TRUNCATE triggers from 0004 stay as they are.
PG_GUARD = """
CREATE TRIGGER moderation_auditevent_no_update BEFORE UPDATE ON moderation_auditevent
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_append_only();
CREATE TRIGGER moderation_auditevent_no_update_statement BEFORE UPDATE ON moderation_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_append_only();
CREATE OR REPLACE FUNCTION moderation_audit_chain_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'moderation_auditchainentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER moderation_auditchainentry_no_update BEFORE UPDATE ON moderation_auditchainentry
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_chain_append_only();
CREATE TRIGGER moderation_auditchainentry_no_delete BEFORE DELETE ON moderation_auditchainentry
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_chain_append_only();
CREATE TRIGGER moderation_auditchainentry_no_update_statement BEFORE UPDATE ON moderation_auditchainentry
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_chain_append_only();
CREATE TRIGGER moderation_auditchainentry_no_delete_statement BEFORE DELETE ON moderation_auditchainentry
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_chain_append_only();
CREATE TRIGGER moderation_auditchainentry_no_truncate BEFORE TRUNCATE ON moderation_auditchainentry
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_chain_append_only();
"""
PG_UNGUARD = """
DROP TRIGGER IF EXISTS moderation_auditevent_no_update ON moderation_auditevent;
DROP TRIGGER IF EXISTS moderation_auditevent_no_update_statement ON moderation_auditevent;
DROP TRIGGER IF EXISTS moderation_auditchainentry_no_update ON moderation_auditchainentry;
DROP TRIGGER IF EXISTS moderation_auditchainentry_no_delete ON moderation_auditchainentry;
DROP TRIGGER IF EXISTS moderation_auditchainentry_no_update_statement ON moderation_auditchainentry;
DROP TRIGGER IF EXISTS moderation_auditchainentry_no_delete_statement ON moderation_auditchainentry;
DROP TRIGGER IF EXISTS moderation_auditchainentry_no_truncate ON moderation_auditchainentry;
DROP FUNCTION IF EXISTS moderation_audit_chain_append_only();
"""
SQLITE_GUARD = [
    "CREATE TRIGGER moderation_auditevent_no_update BEFORE UPDATE ON moderation_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'moderation_auditevent is append-only (UPDATE refused)'); END;",
    "CREATE TRIGGER moderation_auditevent_no_delete BEFORE DELETE ON moderation_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'moderation_auditevent is append-only (DELETE refused)'); END;",
    "CREATE TRIGGER moderation_auditchainentry_no_update BEFORE UPDATE ON moderation_auditchainentry "
    "BEGIN SELECT RAISE(ABORT, 'moderation_auditchainentry is append-only (UPDATE refused)'); END;",
    "CREATE TRIGGER moderation_auditchainentry_no_delete BEFORE DELETE ON moderation_auditchainentry "
    "BEGIN SELECT RAISE(ABORT, 'moderation_auditchainentry is append-only (DELETE refused)'); END;",
]
SQLITE_UNGUARD = [
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_delete;",
    "DROP TRIGGER IF EXISTS moderation_auditchainentry_no_update;",
    "DROP TRIGGER IF EXISTS moderation_auditchainentry_no_delete;",
]


def lift_fill_only_guard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_LIFT_FILL_ONLY, sqlite=SQLITE_LIFT)


def restore_fill_only_guard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_FILL_ONLY, sqlite=SQLITE_FILL_ONLY)


def move_chain_out(apps, schema_editor):
    schema_editor.execute(
        "INSERT INTO moderation_auditchainentry (seq, event_id, hash) "
        "SELECT seq, id, hash FROM moderation_auditevent WHERE seq IS NOT NULL"
    )
    schema_editor.execute(
        "INSERT INTO moderation_auditpending (event_id) SELECT id FROM moderation_auditevent WHERE seq IS NULL"
    )


def move_chain_back(apps, schema_editor):
    schema_editor.execute(
        "UPDATE moderation_auditevent SET seq = c.seq, hash = c.hash, prev_hash = c.prev_hash FROM ("
        f"SELECT event_id, seq, hash, COALESCE(LAG(hash) OVER (ORDER BY seq), '{GENESIS_HASH}') AS prev_hash "
        "FROM moderation_auditchainentry) AS c WHERE moderation_auditevent.id = c.event_id"
    )


def guard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_GUARD, sqlite=SQLITE_GUARD)


def unguard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_UNGUARD, sqlite=SQLITE_UNGUARD)


def _sqlite_legacy_alter_table(flag):
    """As in 0003 and 0004: SQLite rebuilds the audit table to drop its columns; triggers
    elsewhere naming tables make the final rename fail unless legacy ALTER TABLE is on."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f"PRAGMA legacy_alter_table = {flag}")

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0008_merge_20261127_1518'),
    ]

    operations = [
        migrations.RunPython(lift_fill_only_guard, restore_fill_only_guard),
        migrations.RunPython(_sqlite_legacy_alter_table("ON"), _sqlite_legacy_alter_table("OFF")),
        migrations.CreateModel(
            name='AuditChainEntry',
            fields=[
                ('seq', models.BigIntegerField(help_text='Position in the chain (1, 2, ...).', primary_key=True, serialize=False)),
                ('hash', models.CharField(max_length=64)),
                ('event', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='chain_entry', to='moderation.auditevent')),
            ],
            options={
                'ordering': ['seq'],
                'constraints': [models.CheckConstraint(condition=models.Q(('seq__gte', 1)), name='auditchainentry_seq_from_one')],
            },
        ),
        migrations.CreateModel(
            name='AuditPending',
            fields=[
                ('event_id', models.BigIntegerField(primary_key=True, serialize=False)),
            ],
        ),
        migrations.RunPython(move_chain_out, move_chain_back),
        migrations.RemoveConstraint(
            model_name='auditevent',
            name='auditevent_chain_columns_together',
        ),
        migrations.RemoveIndex(
            model_name='auditevent',
            name='auditevent_awaiting_chain',
        ),
        migrations.RemoveField(
            model_name='auditevent',
            name='hash',
        ),
        migrations.RemoveField(
            model_name='auditevent',
            name='prev_hash',
        ),
        migrations.RemoveField(
            model_name='auditevent',
            name='seq',
        ),
        migrations.RunPython(_sqlite_legacy_alter_table("OFF"), _sqlite_legacy_alter_table("ON")),
        migrations.RunPython(guard, unguard),
    ]

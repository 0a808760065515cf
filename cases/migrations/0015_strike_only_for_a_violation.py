"""The database refuses a strike for a decision that found no violation: the strike
carries its decision's verdict, a check keeps it a violation, and a composite foreign
key (which Django cannot declare) keeps the copy equal to the decision's own.

SQLite (`make run`) cannot add a foreign key to a table, so there triggers hold the copy
equal to the decision's verdict instead (a strike's copy on insert and update, and a
decision's verdict while a strike carries it), and the unique key on the decision is a
plain unique index: rebuilding cases_decision, as SQLite's schema editor would, drops the
human gate's triggers on it. cases_strike is rebuilt, with legacy ALTER TABLE semantics
since other tables' triggers name their neighbours."""

from django.conf import settings
from django.db import migrations, models

from moderation.dbtriggers import execute_for_vendor

VERDICT_FK = (
    "ALTER TABLE cases_strike ADD CONSTRAINT strike_decision_verdict_fk "
    "FOREIGN KEY (decision_id, decision_is_violation) "
    "REFERENCES cases_decision (id, is_violation)"
)
SQLITE_VERDICT_COPY = [
    *(
        f"CREATE TRIGGER strike_decision_verdict_{op.lower()} BEFORE {op} ON cases_strike "
        "WHEN NOT EXISTS (SELECT 1 FROM cases_decision d WHERE d.id = NEW.decision_id "
        "AND d.is_violation = NEW.decision_is_violation) "
        "BEGIN SELECT RAISE(ABORT, 'strike_decision_verdict_fk: the strike does not carry its decision''s verdict'); END;"
        for op in ("INSERT", "UPDATE")
    ),
    "CREATE TRIGGER strike_decision_verdict_kept BEFORE UPDATE OF is_violation ON cases_decision "
    "WHEN EXISTS (SELECT 1 FROM cases_strike s WHERE s.decision_id = NEW.id "
    "AND s.decision_is_violation <> NEW.is_violation) "
    "BEGIN SELECT RAISE(ABORT, 'strike_decision_verdict_fk: a strike carries this decision''s verdict'); END;",
]
DECISION_VERDICT_KEY = models.UniqueConstraint(fields=("id", "is_violation"), name="decision_id_verdict_key")


def add_decision_verdict_key(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("CREATE UNIQUE INDEX decision_id_verdict_key ON cases_decision (id, is_violation)")
    else:
        schema_editor.add_constraint(apps.get_model("cases", "Decision"), DECISION_VERDICT_KEY)


def remove_decision_verdict_key(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP INDEX IF EXISTS decision_id_verdict_key")
    else:
        schema_editor.remove_constraint(apps.get_model("cases", "Decision"), DECISION_VERDICT_KEY)


def _sqlite_keep_trigger_references(flag):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f"PRAGMA legacy_alter_table = {flag}")

    return run


def hold_the_verdict_copy(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=VERDICT_FK, sqlite=SQLITE_VERDICT_COPY)


def release_the_verdict_copy(apps, schema_editor):
    execute_for_vendor(
        schema_editor,
        postgresql="ALTER TABLE cases_strike DROP CONSTRAINT strike_decision_verdict_fk",
        sqlite=[f"DROP TRIGGER IF EXISTS strike_decision_verdict_{op}" for op in ("insert", "update", "kept")],
    )


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0014_merge_0010_retention_0013_merge_20261127_1545'),
        ('moderation', '0013_merge_20261127_1554'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_sqlite_keep_trigger_references("ON"), _sqlite_keep_trigger_references("OFF")),
        migrations.AddField(
            model_name='strike',
            name='decision_is_violation',
            field=models.BooleanField(default=True, editable=False),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddConstraint(model_name='decision', constraint=DECISION_VERDICT_KEY)],
            database_operations=[migrations.RunPython(add_decision_verdict_key, remove_decision_verdict_key)],
        ),
        migrations.AddConstraint(
            model_name='strike',
            constraint=models.CheckConstraint(condition=models.Q(('decision_is_violation', True)), name='strike_only_for_a_violation'),
        ),
        migrations.RunPython(_sqlite_keep_trigger_references("OFF"), _sqlite_keep_trigger_references("ON")),
        migrations.RunPython(hold_the_verdict_copy, release_the_verdict_copy),
    ]

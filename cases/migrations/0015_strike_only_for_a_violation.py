"""The database refuses a strike for a decision that found no violation: the strike
carries its decision's verdict, a check keeps it a violation, and a composite foreign
key (which Django cannot declare) keeps the copy equal to the decision's own.

SQLite (`make run`) rebuilds cases_decision and cases_strike to add the constraints;
the human gate's triggers name cases_decision, so the rebuild runs with legacy ALTER
TABLE semantics. SQLite cannot add a foreign key to a table, so there triggers hold
the copy equal to the decision's verdict instead."""

from django.conf import settings
from django.db import migrations, models

from moderation.dbtriggers import execute_for_vendor

VERDICT_FK = (
    "ALTER TABLE cases_strike ADD CONSTRAINT strike_decision_verdict_fk "
    "FOREIGN KEY (decision_id, decision_is_violation) "
    "REFERENCES cases_decision (id, is_violation)"
)
SQLITE_VERDICT_COPY = [
    f"CREATE TRIGGER strike_decision_verdict_{op.lower()} BEFORE {op} ON cases_strike "
    "WHEN NOT EXISTS (SELECT 1 FROM cases_decision d WHERE d.id = NEW.decision_id "
    "AND d.is_violation = NEW.decision_is_violation) "
    "BEGIN SELECT RAISE(ABORT, 'strike_decision_verdict_fk: the strike does not carry its decision''s verdict'); END;"
    for op in ("INSERT", "UPDATE")
]


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
        sqlite=[f"DROP TRIGGER IF EXISTS strike_decision_verdict_{op}" for op in ("insert", "update")],
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
        migrations.AddConstraint(
            model_name='decision',
            constraint=models.UniqueConstraint(fields=('id', 'is_violation'), name='decision_id_verdict_key'),
        ),
        migrations.AddConstraint(
            model_name='strike',
            constraint=models.CheckConstraint(condition=models.Q(('decision_is_violation', True)), name='strike_only_for_a_violation'),
        ),
        migrations.RunPython(_sqlite_keep_trigger_references("OFF"), _sqlite_keep_trigger_references("ON")),
        migrations.RunPython(hold_the_verdict_copy, release_the_verdict_copy),
    ]

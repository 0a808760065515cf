"""The human gate, held by the database whatever code path writes:

- a Decision can be neither made nor approved by a service user (the `service` role
  or any user behind an API client);
- an action can only be `approved` or `applied` under a decision that is final (no
  second approval pending, not rejected). `action_needs_human_decision` already
  requires a decision for anything past `proposed`.

Triggers rather than CHECK constraints because the rule looks at other tables.
"""

from django.db import migrations

from moderation.dbtriggers import execute_for_vendor

SERVICE_USER = (
    "(EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id "
    "WHERE g.name = 'service' AND ug.user_id IN ({ids})) "
    "OR EXISTS (SELECT 1 FROM moderation_apiclient c WHERE c.user_id IN ({ids})))"
).format(ids="NEW.decided_by_id, NEW.approved_by_id")
FINAL_DECISION = (
    "EXISTS (SELECT 1 FROM cases_decision d WHERE d.id = NEW.decision_id "
    "AND (d.needs_approval = {false} OR d.approved_by_id IS NOT NULL) AND d.rejected_by_id IS NULL)"
)
DECISION_MSG = "human gate: a decision cannot be made or approved by a service user"
ACTION_MSG = "human gate: an action is approved or applied only under a final human decision"

PG_GUARD = f"""
CREATE OR REPLACE FUNCTION cases_decision_human_gate() RETURNS trigger AS $$
BEGIN
    IF {SERVICE_USER} THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = '{DECISION_MSG}';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_decision_human_gate BEFORE INSERT OR UPDATE ON cases_decision
    FOR EACH ROW EXECUTE FUNCTION cases_decision_human_gate();
CREATE OR REPLACE FUNCTION cases_action_human_gate() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ('approved', 'applied') AND NOT {FINAL_DECISION.format(false="false")} THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = '{ACTION_MSG}';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_action_human_gate BEFORE INSERT OR UPDATE ON cases_enforcementaction
    FOR EACH ROW EXECUTE FUNCTION cases_action_human_gate();
"""
PG_UNGUARD = """
DROP TRIGGER IF EXISTS cases_decision_human_gate ON cases_decision;
DROP TRIGGER IF EXISTS cases_action_human_gate ON cases_enforcementaction;
DROP FUNCTION IF EXISTS cases_decision_human_gate();
DROP FUNCTION IF EXISTS cases_action_human_gate();
"""
SQLITE_GUARD = [
    f"CREATE TRIGGER cases_decision_human_gate_{op.lower()} BEFORE {op} ON cases_decision "
    f"WHEN {SERVICE_USER} BEGIN SELECT RAISE(ABORT, '{DECISION_MSG}'); END;"
    for op in ("INSERT", "UPDATE")
] + [
    f"CREATE TRIGGER cases_action_human_gate_{op.lower()} BEFORE {op} ON cases_enforcementaction "
    f"WHEN NEW.status IN ('approved', 'applied') AND NOT {FINAL_DECISION.format(false='0')} "
    f"BEGIN SELECT RAISE(ABORT, '{ACTION_MSG}'); END;"
    for op in ("INSERT", "UPDATE")
]
SQLITE_UNGUARD = [
    f"DROP TRIGGER IF EXISTS cases_{table}_human_gate_{op};"
    for table in ("decision", "action")
    for op in ("insert", "update")
]


def guard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_GUARD, sqlite=SQLITE_GUARD)


def unguard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_UNGUARD, sqlite=SQLITE_UNGUARD)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("moderation", "0002_catalogue_roles_audit_guard"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(guard, unguard)]

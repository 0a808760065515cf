"""The human gate tied to the decision, held by the database (issue 17).

An action becomes `approved` or `applied` (insert or update, ORM or raw SQL) only if
- its decision is on the same case and account, and its outcome is one of the
  decision's `outcomes`;
- the decision was made by an active staff person (not the `service` role, not a user
  behind an API client);
- where four eyes is required, the decision carries an approver who is an active staff
  person other than the decider. Required: any outcome `moderation_outcomekind` marks
  severe (or does not know), anything on an account whose facts are pending, any
  non-warning outcome on a Partner Program member or an account above the threshold
  row `moderation_gatesetting.four_eyes_follower_threshold` (synced from settings).

And a decision cannot be stored with `needs_approval = false` where that rule requires a
second person, nor made or approved by someone who is not an active staff person.

This is the SQL twin of `moderation.gate.protected_reasons`; the 0002 triggers (final
decision, no service users) stay as they are.
"""

from django.db import migrations

from moderation.dbtriggers import execute_for_vendor

PG_ELEMENTS = "jsonb_array_elements_text(CASE WHEN jsonb_typeof({x}) = 'array' THEN {x} ELSE '[]'::jsonb END) AS o(v)"
SQLITE_ELEMENTS = "json_each(CASE WHEN json_type({x}) = 'array' THEN {x} ELSE '[]' END) AS o"
PG_VALUE, SQLITE_VALUE = "o.v", "o.value"

HUMAN_STAFF = (
    "(EXISTS (SELECT 1 FROM auth_user u WHERE u.id = {uid} AND u.is_staff AND u.is_active) "
    "AND NOT EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id "
    "WHERE g.name = 'service' AND ug.user_id = {uid}) "
    "AND NOT EXISTS (SELECT 1 FROM moderation_apiclient ac WHERE ac.user_id = {uid}))"
)


def requires_four_eyes(*, elements: str, value: str, outcomes: str, accounts: str) -> str:
    """SQL: the outcomes (a JSON array) on these accounts need a second person."""
    each = elements.format(x=outcomes)
    threshold = (
        "COALESCE((SELECT gs.value FROM moderation_gatesetting gs WHERE gs.key = 'four_eyes_follower_threshold'), 0)"
    )
    return (
        f"(EXISTS (SELECT 1 FROM {each} LEFT JOIN moderation_outcomekind k ON k.code = {value} "
        f"WHERE k.code IS NULL OR k.is_severe) "
        f"OR EXISTS (SELECT 1 FROM moderation_account a WHERE a.id IN ({accounts}) AND ("
        f"(a.facts_pending AND EXISTS (SELECT 1 FROM {each})) "
        f"OR ((a.partner_status = 'active' OR a.follower_count > {threshold}) "
        f"AND EXISTS (SELECT 1 FROM {each} WHERE {value} <> 'warning')))))"
    )


def rules(*, elements: str, value: str) -> dict[str, str]:
    """Each refusal as (message, condition on NEW) for both vendors."""
    action_decision = "(SELECT 1 FROM cases_decision d JOIN cases_case c ON c.id = d.case_id WHERE d.id = NEW.decision_id"
    action_required = requires_four_eyes(
        elements=elements, value=value, outcomes="d.outcomes", accounts="NEW.account_id, c.account_id"
    )
    approver_ok = (
        f"(d.approved_by_id IS NOT NULL AND d.approved_by_id <> d.decided_by_id "
        f"AND {HUMAN_STAFF.format(uid='d.approved_by_id')})"
    )
    decision_required = requires_four_eyes(
        elements=elements,
        value=value,
        outcomes="NEW.outcomes",
        accounts="SELECT c.account_id FROM cases_case c WHERE c.id = NEW.case_id",
    )
    return {
        "outcome": (
            "human gate: the outcome of the action is not one of the outcomes of its decision (or not on its case and account)",
            f"NOT EXISTS {action_decision} AND d.case_id = NEW.case_id AND c.account_id = NEW.account_id "
            f"AND EXISTS (SELECT 1 FROM {elements.format(x='d.outcomes')} WHERE {value} = NEW.outcome))",
        ),
        "decider": (
            "human gate: the decision of the action was not made by an active staff person",
            f"NOT EXISTS {action_decision} AND {HUMAN_STAFF.format(uid='d.decided_by_id')})",
        ),
        "four_eyes": (
            "human gate: four eyes required: the decision needs an approver who is not the decider",
            f"EXISTS {action_decision} AND {action_required} AND NOT {approver_ok})",
        ),
        "needs_approval": (
            "human gate: this decision needs a second person (needs_approval is derived, not chosen)",
            f"NEW.needs_approval = {{false}} AND {decision_required}",
        ),
        "decided_by": (
            "human gate: a decision is made by an active staff person",
            f"NOT {HUMAN_STAFF.format(uid='NEW.decided_by_id')}",
        ),
        "approved_by": (
            "human gate: a decision is approved by an active staff person",
            f"NEW.approved_by_id IS NOT NULL AND NOT {HUMAN_STAFF.format(uid='NEW.approved_by_id')}",
        ),
    }


ACTION_RULES = ("outcome", "decider", "four_eyes")
PG_RULES = rules(elements=PG_ELEMENTS, value=PG_VALUE)
SQLITE_RULES = rules(elements=SQLITE_ELEMENTS, value=SQLITE_VALUE)


def _pg_raise(key: str, *, false: str = "false") -> str:
    message, condition = PG_RULES[key]
    return (
        f"    IF {condition.format(false=false)} THEN\n"
        f"        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = '{message}';\n"
        f"    END IF;\n"
    )


PG_GUARD = f"""
CREATE OR REPLACE FUNCTION cases_action_four_eyes_gate() RETURNS trigger AS $$
BEGIN
    IF NEW.status NOT IN ('approved', 'applied') THEN
        RETURN NEW;
    END IF;
{"".join(_pg_raise(key) for key in ACTION_RULES)}    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_action_four_eyes_gate BEFORE INSERT OR UPDATE ON cases_enforcementaction
    FOR EACH ROW EXECUTE FUNCTION cases_action_four_eyes_gate();
CREATE OR REPLACE FUNCTION cases_decision_four_eyes_gate() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.needs_approval IS DISTINCT FROM OLD.needs_approval
            OR NEW.outcomes IS DISTINCT FROM OLD.outcomes OR NEW.case_id IS DISTINCT FROM OLD.case_id THEN
{_pg_raise("needs_approval")}    END IF;
    IF TG_OP = 'INSERT' OR NEW.decided_by_id IS DISTINCT FROM OLD.decided_by_id THEN
{_pg_raise("decided_by")}    END IF;
    IF TG_OP = 'INSERT' OR NEW.approved_by_id IS DISTINCT FROM OLD.approved_by_id THEN
{_pg_raise("approved_by")}    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_decision_four_eyes_gate BEFORE INSERT OR UPDATE ON cases_decision
    FOR EACH ROW EXECUTE FUNCTION cases_decision_four_eyes_gate();
"""
PG_UNGUARD = """
DROP TRIGGER IF EXISTS cases_action_four_eyes_gate ON cases_enforcementaction;
DROP TRIGGER IF EXISTS cases_decision_four_eyes_gate ON cases_decision;
DROP FUNCTION IF EXISTS cases_action_four_eyes_gate();
DROP FUNCTION IF EXISTS cases_decision_four_eyes_gate();
"""

# SQLite: one trigger per rule and operation; UPDATE triggers fire only when a watched column changes.
_DECISION_WATCH = {
    "needs_approval": ("needs_approval", "outcomes", "case_id"),
    "decided_by": ("decided_by_id",),
    "approved_by": ("approved_by_id",),
}


def _sqlite_trigger(name: str, table: str, op: str, when: str, message: str) -> str:
    return f"CREATE TRIGGER {name} BEFORE {op} ON {table} WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END;"


SQLITE_GUARD = [
    _sqlite_trigger(
        f"cases_action_gate_{key}_{op.lower()}",
        "cases_enforcementaction",
        op,
        f"NEW.status IN ('approved', 'applied') AND {SQLITE_RULES[key][1]}",
        SQLITE_RULES[key][0],
    )
    for key in ACTION_RULES
    for op in ("INSERT", "UPDATE")
] + [
    _sqlite_trigger(
        f"cases_decision_gate_{key}_{op.lower()}",
        "cases_decision",
        op,
        (
            SQLITE_RULES[key][1].format(false="0")
            if op == "INSERT"
            else "(" + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in watched) + ") AND "
            + SQLITE_RULES[key][1].format(false="0")
        ),
        SQLITE_RULES[key][0],
    )
    for key, watched in _DECISION_WATCH.items()
    for op in ("INSERT", "UPDATE")
]
SQLITE_UNGUARD = [
    f"DROP TRIGGER IF EXISTS cases_action_gate_{key}_{op};" for key in ACTION_RULES for op in ("insert", "update")
] + [f"DROP TRIGGER IF EXISTS cases_decision_gate_{key}_{op};" for key in _DECISION_WATCH for op in ("insert", "update")]


def guard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_GUARD, sqlite=SQLITE_GUARD)


def unguard(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_UNGUARD, sqlite=SQLITE_UNGUARD)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0003_default_queues_and_routing"),
        ("moderation", "0004_gate_outcome_kinds_and_settings"),
    ]

    operations = [migrations.RunPython(guard, unguard)]

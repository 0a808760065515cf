"""The rollup counts applied actions too: per day, detectors-alone or not (the automation
share), and per detector version with how many an appeal overturned. Counted live they
were half of the dashboard's SQL at 21,000 actions in a period.

The triggers of 0007 are replaced by the same ones that also mark a day of actions stale
when a later write changes what was counted for it: an action applied, re-dated,
overturned or re-pointed; a case whose actions were applied losing its detectors-only
origin; a detector's signal joining, leaving or changing on a case with applied actions.
PostgreSQL only, as in 0007.
"""

import importlib

from django.conf import settings
from django.db import migrations, models

ROLLUP_0007 = importlib.import_module("supervision.migrations.0007_daily_rollup")
DETECTOR = "detector"
MARK = "INSERT INTO supervision_rollupstalemark (day, kind)"
DAY = "((t) AT TIME ZONE TG_ARGV[0])::date, k"
PAST = "t < clock_timestamp() - interval '1 minute'"
# The applied actions on the cases of a statement's detector signals: one index probe per
# case (= ANY of an array), whatever the planner guesses of a transition table. Inserted
# signals count only when they are the first of their detector version on the case (a
# second one changes no count, so ingest on busy cases marks nothing), checked only for
# the few cases that have applied actions.
ACTIONS_ON = (
    "SELECT a.applied_at, 'actions' FROM cases_enforcementaction a WHERE a.applied_at IS NOT NULL "
    "AND a.case_id = ANY (ARRAY(SELECT DISTINCT case_id FROM {rows} WHERE source = '" + DETECTOR + "'))"
)
FIRST_OF_VERSION = f"""
              AND EXISTS (
                SELECT FROM new_rows n WHERE n.case_id = a.case_id AND n.source = '{DETECTOR}' AND NOT EXISTS (
                  SELECT FROM cases_signal s
                  WHERE s.case_id = n.case_id AND s.source = '{DETECTOR}' AND s.detector_name = n.detector_name
                    AND s.detector_version = n.detector_version AND s.id NOT IN (SELECT id FROM new_rows)))"""

CASE_ROWS = f"""
CREATE FUNCTION supervision_rollup_case_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {MARK} SELECT DISTINCT {DAY} FROM (SELECT opened_at, 'cases' FROM new_rows) v (t, k) WHERE {PAST};
    ELSE
        {MARK} SELECT DISTINCT {DAY} FROM (
            SELECT opened_at, 'cases' FROM old_rows UNION ALL SELECT opened_at, 'detectors' FROM old_rows
        ) v (t, k) WHERE {PAST};
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_rollup_cases_inserted AFTER INSERT ON cases_case
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION supervision_rollup_case_rows(%(tz)s);
CREATE TRIGGER supervision_rollup_cases_deleted AFTER DELETE ON cases_case
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION supervision_rollup_case_rows(%(tz)s);

CREATE FUNCTION supervision_rollup_case_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {MARK} SELECT DISTINCT {DAY} FROM (VALUES (OLD.opened_at, 'cases'), (NEW.opened_at, 'cases'),
        (OLD.opened_at, CASE WHEN OLD.opened_at IS DISTINCT FROM NEW.opened_at THEN 'detectors' END),
        (NEW.opened_at, CASE WHEN OLD.opened_at IS DISTINCT FROM NEW.opened_at THEN 'detectors' END)
    ) v (t, k) WHERE k IS NOT NULL AND {PAST};
    IF OLD.automated_origin IS DISTINCT FROM NEW.automated_origin THEN
        {MARK} SELECT DISTINCT {DAY} FROM (
            SELECT applied_at, 'actions' FROM cases_enforcementaction WHERE case_id = NEW.id AND applied_at IS NOT NULL
        ) v (t, k) WHERE {PAST};
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_rollup_case_changed AFTER UPDATE ON cases_case FOR EACH ROW
    WHEN (OLD.opened_at IS DISTINCT FROM NEW.opened_at OR OLD.queue_id IS DISTINCT FROM NEW.queue_id
          OR OLD.policy_id IS DISTINCT FROM NEW.policy_id OR OLD.policy_family IS DISTINCT FROM NEW.policy_family
          OR OLD.automated_origin IS DISTINCT FROM NEW.automated_origin)
    EXECUTE FUNCTION supervision_rollup_case_changed(%(tz)s);
"""

SIGNAL_ROWS = f"""
CREATE FUNCTION supervision_rollup_signal_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {MARK} SELECT DISTINCT {DAY} FROM (
            SELECT received_at, 'signals' FROM new_rows
            UNION ALL
            SELECT c.opened_at, 'detectors' FROM new_rows n JOIN cases_case c ON c.id = n.case_id
            WHERE n.source = '{DETECTOR}' AND c.opened_at < clock_timestamp() - interval '1 minute'
              AND NOT EXISTS (
                SELECT FROM cases_signal s
                WHERE s.case_id = n.case_id AND s.source = '{DETECTOR}' AND s.detector_name = n.detector_name
                  AND s.detector_version = n.detector_version AND s.id NOT IN (SELECT id FROM new_rows))
            UNION ALL
            {ACTIONS_ON.format(rows="new_rows")}{FIRST_OF_VERSION}
        ) v (t, k) WHERE {PAST};
    ELSE
        {MARK} SELECT DISTINCT {DAY} FROM (
            SELECT received_at, 'signals' FROM old_rows
            UNION ALL
            SELECT c.opened_at, 'detectors' FROM old_rows o JOIN cases_case c ON c.id = o.case_id
            WHERE o.source = '{DETECTOR}'
            UNION ALL
            {ACTIONS_ON.format(rows="old_rows")}
        ) v (t, k) WHERE {PAST};
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_rollup_signals_inserted AFTER INSERT ON cases_signal
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION supervision_rollup_signal_rows(%(tz)s);
CREATE TRIGGER supervision_rollup_signals_deleted AFTER DELETE ON cases_signal
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION supervision_rollup_signal_rows(%(tz)s);

CREATE FUNCTION supervision_rollup_signal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {MARK} SELECT DISTINCT {DAY} FROM (
        SELECT OLD.received_at, 'signals'
        WHERE OLD.received_at IS DISTINCT FROM NEW.received_at OR OLD.source <> NEW.source
        UNION ALL
        SELECT NEW.received_at, 'signals'
        WHERE OLD.received_at IS DISTINCT FROM NEW.received_at OR OLD.source <> NEW.source
        UNION ALL
        SELECT c.opened_at, 'detectors' FROM cases_case c
        WHERE (c.id = OLD.case_id AND OLD.source = '{DETECTOR}') OR (c.id = NEW.case_id AND NEW.source = '{DETECTOR}')
        UNION ALL
        SELECT a.applied_at, 'actions' FROM cases_enforcementaction a
        WHERE a.applied_at IS NOT NULL AND (
            (a.case_id = OLD.case_id AND OLD.source = '{DETECTOR}') OR (a.case_id = NEW.case_id AND NEW.source = '{DETECTOR}')
            OR (a.proposed_by_signal_id = NEW.id AND OLD.source IS DISTINCT FROM NEW.source))
    ) v (t, k) WHERE {PAST};
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_rollup_signal_changed AFTER UPDATE ON cases_signal FOR EACH ROW
    WHEN (OLD.received_at IS DISTINCT FROM NEW.received_at OR OLD.source IS DISTINCT FROM NEW.source
          OR OLD.case_id IS DISTINCT FROM NEW.case_id OR OLD.detector_name IS DISTINCT FROM NEW.detector_name
          OR OLD.detector_version IS DISTINCT FROM NEW.detector_version)
    EXECUTE FUNCTION supervision_rollup_signal_changed(%(tz)s);
"""

# Actions: the day an action was applied, when one is inserted or deleted applied, or
# its applied time, overturn, case or proposing signal changes (a bulk apply marks
# nothing: its days are today's, not rolled up yet).
ACTION_ROWS = f"""
CREATE FUNCTION supervision_rollup_action_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {MARK} SELECT DISTINCT {DAY} FROM (SELECT applied_at, 'actions' FROM new_rows) v (t, k) WHERE {PAST};
    ELSE
        {MARK} SELECT DISTINCT {DAY} FROM (SELECT applied_at, 'actions' FROM old_rows) v (t, k) WHERE {PAST};
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_rollup_actions_inserted AFTER INSERT ON cases_enforcementaction
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION supervision_rollup_action_rows(%(tz)s);
CREATE TRIGGER supervision_rollup_actions_deleted AFTER DELETE ON cases_enforcementaction
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION supervision_rollup_action_rows(%(tz)s);

CREATE FUNCTION supervision_rollup_action_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {MARK} SELECT DISTINCT {DAY} FROM (VALUES (OLD.applied_at, 'actions'), (NEW.applied_at, 'actions')) v (t, k)
    WHERE {PAST};
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_rollup_action_changed AFTER UPDATE ON cases_enforcementaction FOR EACH ROW
    WHEN (OLD.applied_at IS DISTINCT FROM NEW.applied_at OR OLD.reversal_cause IS DISTINCT FROM NEW.reversal_cause
          OR OLD.case_id IS DISTINCT FROM NEW.case_id
          OR OLD.proposed_by_signal_id IS DISTINCT FROM NEW.proposed_by_signal_id)
    EXECUTE FUNCTION supervision_rollup_action_changed(%(tz)s);
"""

DROP_ACTIONS = """
DROP TRIGGER IF EXISTS supervision_rollup_action_changed ON cases_enforcementaction;
DROP TRIGGER IF EXISTS supervision_rollup_actions_deleted ON cases_enforcementaction;
DROP TRIGGER IF EXISTS supervision_rollup_actions_inserted ON cases_enforcementaction;
DROP FUNCTION IF EXISTS supervision_rollup_action_changed();
DROP FUNCTION IF EXISTS supervision_rollup_action_rows();
"""


def _tz() -> str:
    return "'" + settings.TIME_ZONE.replace("'", "''") + "'"


def create_triggers(apps, schema_editor):
    """0007's triggers replaced by these, and the actions' own (the time zone fixed in
    them as in 0007)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(ROLLUP_0007.DROP)
        cursor.execute((CASE_ROWS + SIGNAL_ROWS + ACTION_ROWS).replace("%(tz)s", _tz()))


def recount_rolled_days_for_actions(apps, schema_editor):
    """The days already rolled up hold no action counts yet: marked stale, they are counted
    live until the next run fills them (never read as zeros)."""
    RolledUpDay = apps.get_model("supervision", "RolledUpDay")
    RollupStaleMark = apps.get_model("supervision", "RollupStaleMark")
    RollupStaleMark.objects.bulk_create(
        [RollupStaleMark(day=day, kind="actions") for day in RolledUpDay.objects.values_list("day", flat=True)],
        batch_size=1000,
    )


def restore_0007_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP_ACTIONS + ROLLUP_0007.DROP)
    ROLLUP_0007.create_triggers(apps, schema_editor)



class Migration(migrations.Migration):

    dependencies = [
        ('supervision', '0007_daily_rollup'),
    ]

    operations = [
        migrations.AlterField(
            model_name='rollupstalemark',
            name='kind',
            field=models.CharField(choices=[('cases', 'Cases opened'), ('detectors', 'Cases per detector version'), ('signals', 'Signals received'), ('actions', 'Actions applied')], max_length=16),
        ),
        migrations.CreateModel(
            name='ActionDailyCounts',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('automated', models.BooleanField()),
                ('actions', models.PositiveIntegerField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'automated'), name='action_daily_counts_key')],
            },
        ),
        migrations.CreateModel(
            name='DetectorActionDailyCounts',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('detector_name', models.CharField(max_length=100)),
                ('detector_version', models.CharField(max_length=50)),
                ('applied', models.PositiveIntegerField()),
                ('overturned', models.PositiveIntegerField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'detector_name', 'detector_version'), name='detector_action_daily_counts_key')],
            },
        ),
        migrations.RunPython(create_triggers, restore_0007_triggers),
        migrations.RunPython(recount_rolled_days_for_actions, migrations.RunPython.noop),
    ]

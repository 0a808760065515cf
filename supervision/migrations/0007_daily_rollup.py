"""The supervisor dashboard's daily rollup: counts per closed day, and the PostgreSQL
triggers that mark a day stale whenever a later write changes what it counted (a signal
joining a case opened days ago, a case escalated to another queue, a human report
clearing a case's detectors-only origin, rows deleted or back-dated). A day here is a day
in settings.TIME_ZONE; the rollup counts a day up to ROLLUP_LAG ago, so today's part too. Elsewhere the
rollup is never read (supervision.selectors.rollup_in_use), so SQLite needs no triggers.
"""

import django.db.models.deletion
from django.conf import settings
import django.db.models.functions.datetime
from django.db import migrations, models

DETECTOR = "detector"
MARK = "INSERT INTO supervision_rollupstalemark (day, kind)"
DAY = "((t) AT TIME ZONE TG_ARGV[0])::date, k"
# Facts older than this when a write changes them may already be rolled up (the rollup
# only counts up to ROLLUP_LAG ago, supervision.services); newer ones cannot be yet.
PAST = "t < clock_timestamp() - interval '1 minute'"

# Cases: a day's counts change when a case of it is inserted late, deleted, back-dated,
# moved to another queue or policy, or loses its detectors-only origin.
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
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_rollup_case_changed AFTER UPDATE ON cases_case FOR EACH ROW
    WHEN (OLD.opened_at IS DISTINCT FROM NEW.opened_at OR OLD.queue_id IS DISTINCT FROM NEW.queue_id
          OR OLD.policy_id IS DISTINCT FROM NEW.policy_id OR OLD.policy_family IS DISTINCT FROM NEW.policy_family
          OR OLD.automated_origin IS DISTINCT FROM NEW.automated_origin)
    EXECUTE FUNCTION supervision_rollup_case_changed(%(tz)s);
"""

# Signals: the day they were received, and for a detector's signal the day its case
# opened, when it is the first signal of that detector version on the case (a second
# one changes no count, so ingest on busy cases marks nothing).
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
        ) v (t, k) WHERE {PAST};
    ELSE
        {MARK} SELECT DISTINCT {DAY} FROM (
            SELECT received_at, 'signals' FROM old_rows
            UNION ALL
            SELECT c.opened_at, 'detectors' FROM old_rows o JOIN cases_case c ON c.id = o.case_id
            WHERE o.source = '{DETECTOR}'
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
    ) v (t, k) WHERE {PAST};
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_rollup_signal_changed AFTER UPDATE ON cases_signal FOR EACH ROW
    WHEN (OLD.received_at IS DISTINCT FROM NEW.received_at OR OLD.source IS DISTINCT FROM NEW.source
          OR OLD.case_id IS DISTINCT FROM NEW.case_id OR OLD.detector_name IS DISTINCT FROM NEW.detector_name
          OR OLD.detector_version IS DISTINCT FROM NEW.detector_version)
    EXECUTE FUNCTION supervision_rollup_signal_changed(%(tz)s);
"""

DROP = """
DROP TRIGGER IF EXISTS supervision_rollup_signal_changed ON cases_signal;
DROP TRIGGER IF EXISTS supervision_rollup_signals_deleted ON cases_signal;
DROP TRIGGER IF EXISTS supervision_rollup_signals_inserted ON cases_signal;
DROP TRIGGER IF EXISTS supervision_rollup_case_changed ON cases_case;
DROP TRIGGER IF EXISTS supervision_rollup_cases_deleted ON cases_case;
DROP TRIGGER IF EXISTS supervision_rollup_cases_inserted ON cases_case;
DROP FUNCTION IF EXISTS supervision_rollup_signal_changed();
DROP FUNCTION IF EXISTS supervision_rollup_signal_rows();
DROP FUNCTION IF EXISTS supervision_rollup_case_changed();
DROP FUNCTION IF EXISTS supervision_rollup_case_rows();
"""


def create_triggers(apps, schema_editor):
    """The time zone is fixed in the triggers as settings.TIME_ZONE is now; the rollup
    records it on nothing else, so a change of TIME_ZONE needs this migration re-run
    (and `rollup_supervision_days --all`)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    tz = "'" + settings.TIME_ZONE.replace("'", "''") + "'"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute((CASE_ROWS + SIGNAL_ROWS).replace("%(tz)s", tz))


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0016_dashboard_period_indexes'),
        ('moderation', '0015_merge_0014_audit_skip_list_idx_0014_scrub_job_errors'),
        ('supervision', '0006_finished_work_retention'),
    ]

    operations = [
        migrations.CreateModel(
            name='RolledUpDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(unique=True)),
                ('through', models.DateTimeField()),
                ('rolled_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['day'],
            },
        ),
        migrations.CreateModel(
            name='DetectorDailyCounts',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('detector_name', models.CharField(max_length=100)),
                ('detector_version', models.CharField(max_length=50)),
                ('cases', models.PositiveIntegerField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'detector_name', 'detector_version'), name='detector_daily_counts_key')],
            },
        ),
        migrations.CreateModel(
            name='RollupStaleMark',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('kind', models.CharField(choices=[('cases', 'Cases opened'), ('detectors', 'Cases per detector version'), ('signals', 'Signals received')], max_length=16)),
                ('marked_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
            ],
            options={
                'indexes': [models.Index(fields=['day'], name='rollup_stale_day_idx')],
            },
        ),
        migrations.CreateModel(
            name='SignalDailyCounts',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('source', models.CharField(max_length=16)),
                ('signals', models.PositiveIntegerField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'source'), name='signal_daily_counts_key')],
            },
        ),
        migrations.CreateModel(
            name='CaseDailyCounts',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('policy_family', models.CharField(max_length=32)),
                ('automated_origin', models.BooleanField()),
                ('cases', models.PositiveIntegerField()),
                ('policy', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='moderation.policy')),
                ('queue', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cases.queue')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'queue', 'policy', 'policy_family', 'automated_origin'), name='case_daily_counts_key', nulls_distinct=False)],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]

"""Policy catalogue v1, the staff role groups, and database triggers that refuse
any UPDATE or DELETE of an audit row, whatever code path tries."""

from django.db import migrations

from moderation.dbtriggers import execute_for_vendor

PG_GUARD = """
CREATE OR REPLACE FUNCTION moderation_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'moderation_auditevent is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER moderation_auditevent_no_update BEFORE UPDATE ON moderation_auditevent
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_append_only();
CREATE TRIGGER moderation_auditevent_no_delete BEFORE DELETE ON moderation_auditevent
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_append_only();
"""
PG_UNGUARD = """
DROP TRIGGER IF EXISTS moderation_auditevent_no_update ON moderation_auditevent;
DROP TRIGGER IF EXISTS moderation_auditevent_no_delete ON moderation_auditevent;
DROP FUNCTION IF EXISTS moderation_audit_append_only();
"""
SQLITE_GUARD = [
    "CREATE TRIGGER moderation_auditevent_no_update BEFORE UPDATE ON moderation_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'moderation_auditevent is append-only (UPDATE refused)'); END;",
    "CREATE TRIGGER moderation_auditevent_no_delete BEFORE DELETE ON moderation_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'moderation_auditevent is append-only (DELETE refused)'); END;",
]
SQLITE_UNGUARD = [
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS moderation_auditevent_no_delete;",
]


def guard_audit(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_GUARD, sqlite=SQLITE_GUARD)


def unguard_audit(apps, schema_editor):
    execute_for_vendor(schema_editor, postgresql=PG_UNGUARD, sqlite=SQLITE_UNGUARD)


def load_catalogue(apps, schema_editor):
    from moderation.catalogue import catalogue_rows

    Policy = apps.get_model("moderation", "Policy")
    for row in catalogue_rows():
        Policy.objects.update_or_create(code=row["code"], version=row["version"], defaults=row)


def unload_catalogue(apps, schema_editor):
    apps.get_model("moderation", "Policy").objects.filter(version=1).delete()


def create_roles(apps, schema_editor):
    from moderation.roles import Role

    Group = apps.get_model("auth", "Group")
    for name in Role.ALL:
        Group.objects.get_or_create(name=name)


def remove_roles(apps, schema_editor):
    from moderation.roles import Role

    apps.get_model("auth", "Group").objects.filter(name__in=Role.ALL).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(load_catalogue, unload_catalogue),
        migrations.RunPython(create_roles, remove_roles),
        migrations.RunPython(guard_audit, unguard_audit),
    ]

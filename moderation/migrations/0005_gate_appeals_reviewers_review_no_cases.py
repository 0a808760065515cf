"""Appeals reviewers lose `cases.review_case` and `cases.add_evidence` (issue 17): a role that judges appeals on
decisions must not also claim cases or blind QA samples. moderation.roles says the same
for every later migrate; this changes the group as it exists today."""

from django.db import migrations

CODENAMES = ["review_case", "add_evidence"]


def drop_case_review(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="appeals_reviewer").first()
    perms = Permission.objects.filter(content_type__app_label="cases", codename__in=CODENAMES)
    if group is not None:
        group.permissions.remove(*perms)


def restore_case_review(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="appeals_reviewer").first()
    perms = Permission.objects.filter(content_type__app_label="cases", codename__in=CODENAMES)
    if group is not None:
        group.permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0004_gate_outcome_kinds_and_settings"),
        ("cases", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(drop_case_review, restore_case_review)]

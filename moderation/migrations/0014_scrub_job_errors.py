"""Errors already stored on jobs get their email addresses blanked, as new ones are
(moderation.outbox.scrub_error): the admin's job list shows them to supervisors."""

import re

from django.db import migrations

EMAIL = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")


def scrub(apps, schema_editor):
    BackgroundJob = apps.get_model("moderation", "BackgroundJob")
    for pk, error in BackgroundJob.objects.filter(last_error__contains="@").values_list("pk", "last_error").iterator():
        BackgroundJob.objects.filter(pk=pk).update(last_error=EMAIL.sub("[email]", error))


class Migration(migrations.Migration):
    dependencies = [("moderation", "0013_merge_20261127_1554")]

    operations = [migrations.RunPython(scrub, migrations.RunPython.noop)]

"""What a visitor types on the sign-in page moves out of the job's arguments into a
`MagicLinkRequest` the job reads by id. Jobs recorded the old way are rewritten: an
unfinished one gets a request row and the new function; a finished one loses the
arguments (it never runs again)."""

from django.db import migrations, models

OLD = "appeals.jobs.send_magic_link_if_known"
NEW = "appeals.jobs.send_magic_link_request"


def carry_ids_not_what_was_typed(apps, schema_editor):
    BackgroundJob = apps.get_model("moderation", "BackgroundJob")
    MagicLinkRequest = apps.get_model("appeals", "MagicLinkRequest")
    BackgroundJob.objects.filter(func=OLD, done_at__isnull=False).update(func=NEW, args=[], kwargs={})
    for job in BackgroundJob.objects.filter(func=OLD, done_at__isnull=True):
        handle, email, language = (list(job.args) + ["", "", ""])[:3]
        typed = MagicLinkRequest.objects.create(
            handle=str(job.kwargs.get("handle", handle))[:64],
            email=str(job.kwargs.get("email", email))[:254],
            language=str(job.kwargs.get("language", language))[:10],
        )
        BackgroundJob.objects.filter(pk=job.pk).update(func=NEW, args=[typed.pk], kwargs={})


class Migration(migrations.Migration):
    dependencies = [
        ("appeals", "0005_retention"),
        ("moderation", "0013_merge_20261127_1554"),
    ]

    operations = [
        migrations.CreateModel(
            name="MagicLinkRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("handle", models.CharField(max_length=64)),
                ("email", models.CharField(max_length=254)),
                ("language", models.CharField(blank=True, max_length=10)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.RunPython(carry_ids_not_what_was_typed, migrations.RunPython.noop),
    ]

"""Detector verdicts follow the final word (issue 10, finding 6): the mark as made stays
in `was_correct`; `final_was_correct`, `final_source` and `final_revised_at` follow
appeals, QA settlements and re-reviews; `superseded_by` links a mark to the later
decision's mark on the same signal. Existing rows start with their final word equal to
the mark as made."""

import django.db.models.deletion
from django.db import migrations, models


def copy_marks(apps, schema_editor):
    DetectorVerdict = apps.get_model("cases", "DetectorVerdict")
    DetectorVerdict.objects.update(final_was_correct=models.F("was_correct"))


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0003_default_queues_and_routing"),
    ]

    operations = [
        migrations.AddField(
            model_name="detectorverdict",
            name="final_revised_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="detectorverdict",
            name="final_source",
            field=models.CharField(
                choices=[
                    ("decision", "Reviewer at decision time"),
                    ("appeal", "Appeal"),
                    ("qa", "QA settlement"),
                    ("re_review", "Later decision on the re-opened case"),
                ],
                default="decision",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="detectorverdict",
            name="final_was_correct",
            field=models.BooleanField(
                default=False, help_text="The detector was right, by the final word on the case."
            ),
            preserve_default=False,
        ),
        migrations.RunPython(copy_marks, migrations.RunPython.noop),
        migrations.AddField(
            model_name="detectorverdict",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The mark on the same signal by a later decision on the case.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="supersedes",
                to="cases.detectorverdict",
            ),
        ),
        migrations.AddIndex(
            model_name="detectorverdict",
            index=models.Index(
                condition=models.Q(("superseded_by__isnull", True)),
                fields=["detector_name", "detector_version"],
                name="verdict_current_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="detectorverdict",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("final_source", "decision"), ("final_revised_at__isnull", True)),
                    models.Q(
                        models.Q(("final_source", "decision"), _negated=True), ("final_revised_at__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="verdict_revision_has_time",
            ),
        ),
        migrations.AddConstraint(
            model_name="detectorverdict",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("final_source", "decision"), ("final_was_correct", models.F("was_correct"))),
                    models.Q(("final_source", "decision"), _negated=True),
                    _connector="OR",
                ),
                name="verdict_unrevised_is_the_mark",
            ),
        ),
        migrations.AddConstraint(
            model_name="detectorverdict",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("superseded_by__isnull", True),
                    models.Q(("superseded_by", models.F("id")), _negated=True),
                    _connector="OR",
                ),
                name="verdict_not_superseded_by_itself",
            ),
        ),
    ]

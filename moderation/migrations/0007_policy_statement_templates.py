"""Version 2 of every catalogue policy: its own statement template (the facts paragraph
of the letter in the rule's words) instead of v1's one generic sentence that repeated
the rule. A policy a superuser already edited away from the v1 text is left alone.
Published like any later version: the old one stays, decisions keep pointing at it."""

import moderation.statement_templates
from django.db import migrations, models

COPIED = (
    "code", "family", "title", "description", "severity", "allowed_outcomes",
    "default_outcomes", "repeat_outcomes", "source",
)


def publish_templates(apps, schema_editor):
    from moderation.catalogue import DEFAULT_TEMPLATE
    from moderation.catalogue_statements import STATEMENT_TEMPLATES

    Policy = apps.get_model("moderation", "Policy")
    for code, template in STATEMENT_TEMPLATES.items():
        current = Policy.objects.filter(code=code, is_current=True).first()
        if current is None or current.statement_template != DEFAULT_TEMPLATE:
            continue
        latest = Policy.objects.filter(code=code).order_by("-version").values_list("version", flat=True).first()
        Policy.objects.filter(pk=current.pk).update(is_current=False)
        Policy.objects.create(
            **{name: getattr(current, name) for name in COPIED},
            version=latest + 1,
            statement_template=template,
            is_current=True,
        )


def unpublish_templates(apps, schema_editor):
    from moderation.catalogue_statements import STATEMENT_TEMPLATES

    Policy = apps.get_model("moderation", "Policy")
    for code, template in STATEMENT_TEMPLATES.items():
        current = Policy.objects.filter(code=code, is_current=True, statement_template=template).first()
        if current is None:
            continue
        previous = Policy.objects.filter(code=code, version__lt=current.version).order_by("-version").first()
        current.delete()
        if previous is not None:
            Policy.objects.filter(pk=previous.pk).update(is_current=True)


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0006_merge_20261127_1247'),
    ]

    operations = [
        migrations.AlterField(
            model_name='policy',
            name='statement_template',
            field=models.TextField(help_text="The facts paragraph of the statement of reasons, in this rule's words. Placeholders in braces are filled in with the case's facts: {handle}, {subject}, {story_title}, {story_link}, {signals}, {first_received}, {policy_title}, {policy_description}.", validators=[moderation.statement_templates.validate_statement_template]),
        ),
        migrations.RunPython(publish_templates, unpublish_templates),
    ]

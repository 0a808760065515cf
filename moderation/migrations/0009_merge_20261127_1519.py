# Merges the strike terms (0007_policy_strikes_and_escalation) with the statement-template
# versions (0007_policy_statement_templates, merged in 0008).

from django.db import migrations


def load_strike_terms_on_every_version(apps, schema_editor):
    """0007_policy_statement_templates publishes v2 of each rule copying only the fields it
    knew; whichever of the two 0007s ran last, every version gets its code's strike terms."""
    from moderation.catalogue import strike_rows

    Policy = apps.get_model("moderation", "Policy")
    for row in strike_rows():
        code = row.pop("code")
        Policy.objects.filter(code=code).update(**row)


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0007_policy_strikes_and_escalation'),
        ('moderation', '0008_merge_20261127_1518'),
    ]

    operations = [
        migrations.RunPython(load_strike_terms_on_every_version, migrations.RunPython.noop),
    ]

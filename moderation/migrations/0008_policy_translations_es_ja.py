"""Spanish and Japanese wording of catalogue version 1 (and of any later version that
kept the same English wording)."""

from django.db import migrations


def load_translations(apps, schema_editor):
    from moderation.catalogue import CATALOGUE
    from moderation.catalogue_translations import translation_rows

    Policy = apps.get_model("moderation", "Policy")
    PolicyTranslation = apps.get_model("moderation", "PolicyTranslation")
    english = {entry["code"]: (entry["title"], entry["description"]) for entry in CATALOGUE}
    for code, language, title, description in translation_rows():
        en_title, en_description = english[code]
        for policy in Policy.objects.filter(code=code, title=en_title, description=en_description):
            PolicyTranslation.objects.update_or_create(
                policy=policy, language=language, defaults={"title": title, "description": description}
            )


def unload_translations(apps, schema_editor):
    apps.get_model("moderation", "PolicyTranslation").objects.all().delete()


class Migration(migrations.Migration):
    # After the statement-template versions, so the versions they publish get the wording too.
    dependencies = [
        ("moderation", "0007_writer_language_and_policy_translations"),
        ("moderation", "0007_policy_statement_templates"),
    ]

    operations = [migrations.RunPython(load_translations, unload_translations)]

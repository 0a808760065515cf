"""The database refuses a strike for a decision that found no violation: the strike
carries its decision's verdict, a check keeps it a violation, and a composite foreign
key (which Django cannot declare) keeps the copy equal to the decision's own."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0014_merge_0010_retention_0013_merge_20261127_1545'),
        ('moderation', '0013_merge_20261127_1554'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='strike',
            name='decision_is_violation',
            field=models.BooleanField(default=True, editable=False),
        ),
        migrations.AddConstraint(
            model_name='decision',
            constraint=models.UniqueConstraint(fields=('id', 'is_violation'), name='decision_id_verdict_key'),
        ),
        migrations.AddConstraint(
            model_name='strike',
            constraint=models.CheckConstraint(condition=models.Q(('decision_is_violation', True)), name='strike_only_for_a_violation'),
        ),
        migrations.RunSQL(
            sql=(
                "ALTER TABLE cases_strike ADD CONSTRAINT strike_decision_verdict_fk "
                "FOREIGN KEY (decision_id, decision_is_violation) "
                "REFERENCES cases_decision (id, is_violation)"
            ),
            reverse_sql="ALTER TABLE cases_strike DROP CONSTRAINT strike_decision_verdict_fk",
        ),
    ]

"""Policy rules that block on what the gate already sees (an importance jump, a failed hold-out audit),
and the append-only history of switching them (UPDATE refused on PostgreSQL and SQLite, DELETE on
PostgreSQL). The trigger is mlops.append_only's."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from mlops.append_only import append_only_trigger


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0009_holdout_positive_label'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PolicyRuleSwitch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rule', models.CharField(choices=[('block_importance_jump', 'Block a feature that was minor and now dominates'), ('block_failed_holdout_audit', "Block when the hold-out's audit failed")], max_length=40)),
                ('enabled', models.BooleanField()),
                ('reason', models.TextField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AddField(
            model_name='promotionpolicy',
            name='block_failed_holdout_audit',
            field=models.BooleanField(default=True, help_text='Fail a candidate judged on hold-out data whose own data audit failed.'),
        ),
        migrations.AddField(
            model_name='promotionpolicy',
            name='block_importance_jump',
            field=models.BooleanField(default=True, help_text='Fail a candidate whose top feature was minor in the model it replaces and now holds more than the largest share of its importance: the trace of a target leak.'),
        ),
        migrations.AddField(
            model_name='promotionpolicy',
            name='max_importance_share',
            field=models.FloatField(default=0.5, help_text="Largest share of the candidate's summed importance a feature that was minor before may hold.", validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)]),
        ),
        migrations.AddConstraint(
            model_name='promotionpolicy',
            constraint=models.CheckConstraint(condition=models.Q(('max_importance_share__gte', 0), ('max_importance_share__lte', 1)), name='registry_policy_importance_share_is_share'),
        ),
        migrations.AddField(
            model_name='policyruleswitch',
            name='actor',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='policyruleswitch',
            name='policy',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='switches', to='registry.promotionpolicy'),
        ),
        migrations.AddConstraint(
            model_name='policyruleswitch',
            constraint=models.CheckConstraint(condition=models.Q(('rule__in', ['block_importance_jump', 'block_failed_holdout_audit'])), name='registry_policy_switch_rule_valid'),
        ),
        migrations.AddConstraint(
            model_name='policyruleswitch',
            constraint=models.CheckConstraint(condition=models.Q(('enabled', True), models.Q(('reason', ''), _negated=True), _connector='OR'), name='registry_policy_switch_off_says_why'),
        ),
        append_only_trigger("registry_policyruleswitch"),
    ]

"""The default review queues and the routing rules that fill them. Both are data:
supervisors change them in the admin afterwards."""

from django.db import migrations

QUEUES = [
    # slug, name, sla_hours, allowed roles, escalation, position, description
    ("escalations", "Escalations", 12, ["senior_moderator"], True, 0,
     "Critical policies and cases a moderator escalated; senior moderators only."),
    ("ai-content", "AI content", 72, ["moderator", "senior_moderator"], False, 10,
     "AI-generated or AI-assisted writing: paywall, disclosure, remixes, SEO spam."),
    ("spam", "Spam & misuse", 24, ["moderator", "senior_moderator"], False, 20,
     "Spam, scraped and duplicate content, automation and promotional interactions."),
    ("engagement", "Engagement & Partner Program", 48, ["moderator", "senior_moderator"], False, 30,
     "Engagement rings, self-engagement, bulk interactions and deception for revenue."),
    ("reader-reports", "Reader reports", 48, ["moderator", "senior_moderator"], False, 40,
     "Cases opened by readers ('Report story', 'Show less' from many readers) "
     "and anything no other rule routes."),
]
RULES = [
    # position, queue slug, family, code, source
    (5, "escalations", "", "ai.prohibited_tooling", ""),
    (8, "reader-reports", "", "", "reader_report"),
    (9, "reader-reports", "", "", "show_less"),
    (10, "ai-content", "ai", "", ""),
    (20, "spam", "spam", "", ""),
    (30, "engagement", "engagement", "", ""),
    (35, "engagement", "deception", "", ""),
    (1000, "reader-reports", "", "", ""),
]


def create_defaults(apps, schema_editor):
    Queue = apps.get_model("cases", "Queue")
    RoutingRule = apps.get_model("cases", "RoutingRule")
    queues = {}
    for slug, name, sla, roles, escalation, position, description in QUEUES:
        queues[slug], _ = Queue.objects.get_or_create(
            slug=slug,
            defaults=dict(name=name, sla_hours=sla, allowed_roles=roles, is_escalation=escalation,
                          position=position, description=description),
        )
    if not RoutingRule.objects.exists():
        for position, slug, family, code, source in RULES:
            RoutingRule.objects.create(queue=queues[slug], position=position, policy_family=family,
                                       policy_code=code, source=source)


def remove_defaults(apps, schema_editor):
    Queue = apps.get_model("cases", "Queue")
    RoutingRule = apps.get_model("cases", "RoutingRule")
    slugs = [q[0] for q in QUEUES]
    RoutingRule.objects.filter(queue__slug__in=slugs).delete()
    Queue.objects.filter(slug__in=slugs, cases__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_human_gate_triggers")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]

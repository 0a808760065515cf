from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases & review"

    def ready(self):
        from cases import audit_verbs  # noqa: F401  (registers the intake audit verbs)
        from cases.demo import seed_demo_signals
        from moderation.demo import register_demo_step

        register_demo_step("cases.intake", seed_demo_signals, position=10)

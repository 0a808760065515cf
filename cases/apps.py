from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases & review"

    def ready(self):
        from cases import audit_verbs  # noqa: F401  (registers the intake audit verbs)
        from cases.demo import seed_demo_signals
        from moderation.demo import register_demo_step

        register_demo_step("cases.intake", seed_demo_signals, position=10)
        from cases import review_audit_verbs  # noqa: F401  (registers the review audit verbs)
        from cases.dashboard import register as register_review_panels
        from cases.review_demo import seed_demo_decisions

        register_review_panels()
        register_demo_step("cases.review", seed_demo_decisions, position=20)
        from cases import verdict_audit_verbs  # noqa: F401  (registers the detector verdict verbs)

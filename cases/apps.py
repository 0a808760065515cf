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
        self._connect_evidence_builders()
        register_demo_step("cases.review", seed_demo_decisions, position=20)
        from cases import verdict_audit_verbs  # noqa: F401  (registers the detector verdict verbs)

    def _connect_evidence_builders(self):
        from django.db.models.signals import post_save

        from cases.evidence.demo import seed_demo_engagement
        from cases.evidence.receivers import build_on_case_opened, index_written_stories
        from moderation.demo import register_demo_step
        from moderation.signals import stories_written

        post_save.connect(build_on_case_opened, sender="cases.Case", dispatch_uid="cases.evidence.case_opened")
        stories_written.connect(index_written_stories, dispatch_uid="cases.evidence.index_stories")
        register_demo_step("cases.evidence", seed_demo_engagement, position=5)

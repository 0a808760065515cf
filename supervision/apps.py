from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "supervision"
    verbose_name = "Supervision"

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_save

        from moderation.blinding import register_blinding
        from moderation.dashboard import register_panel
        from moderation.demo import register_demo_step
        from supervision import audit_verbs  # noqa: F401
        from supervision.aggregates import register_sqlite_functions
        from supervision.dashboard import PANELS
        from supervision.demo import seed_supervision_demo
        from supervision.receivers import sample_final_decision
        from supervision.selectors import qa_blinded

        register_blinding("supervision.qa", qa_blinded)
        connection_created.connect(register_sqlite_functions, dispatch_uid="supervision.sqlite_functions")
        post_save.connect(sample_final_decision, sender="cases.Decision", dispatch_uid="supervision.sample_decision")
        for panel in PANELS:
            register_panel(panel)
        register_demo_step("supervision", seed_supervision_demo, position=900)

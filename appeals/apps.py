from django.apps import AppConfig


class AppealsConfig(AppConfig):
    name = "appeals"
    verbose_name = "Appeals"

    def ready(self):
        from appeals import audit_verbs, dashboard
        from appeals.demo import seed_demo_appeals
        from moderation.dashboard import register_panel
        from moderation.demo import register_demo_step

        audit_verbs.register()
        for panel in dashboard.PANELS:
            register_panel(panel)
        register_demo_step("appeals", seed_demo_appeals, position=950)

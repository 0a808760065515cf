from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Platform & policy"

    def ready(self):
        from django.db.models.signals import post_migrate

        from moderation import checks  # noqa: F401  (registers the audit signing key check)
        from moderation.roles import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="moderation.sync_role_permissions")

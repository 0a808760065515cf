from django.conf import settings
from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from moderation.demo import seed_demo_platform


class Command(BaseCommand):
    help = "Seed a believable demo platform and one staff user per role (safe to run twice)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--writers", type=int, default=300)

    def handle(self, *args, seed, writers, **options):
        # Demo notices are stored on their cases; printing every email would bury the logins.
        # In DEBUG they are saved (not printed) for the demo mail page.
        quiet = "django.core.mail.backends.locmem.EmailBackend"
        if settings.EMAIL_BACKEND == "moderation.demo_mail.SavedMailBackend":
            quiet = "moderation.demo_mail.SavedMailOnlyBackend"
        with override_settings(EMAIL_BACKEND=quiet):
            summary = seed_demo_platform(seed=seed, writers=writers)
        self.stdout.write(
            f"Demo platform: {summary.accounts} accounts, {summary.stories} stories and responses, "
            f"{summary.follows} follows; engagement ring of {len(summary.ring_handles)}, "
            f"{len(summary.fake_handles)} fake follower accounts."
        )
        for line in summary.notes:
            self.stdout.write(line)
        self.stdout.write("Staff logins (password is the same for all):")
        for username, password, roles in summary.staff:
            self.stdout.write(f"  {username:<12} / {password}   ({roles})")
        if settings.DEBUG and settings.EMAIL_BACKEND == "moderation.demo_mail.SavedMailBackend":
            self.stdout.write(
                f"Mail the demo sends (a writer's magic link, decision notices): {settings.SITE_URL}/admin/demo/mail/ "
                f"(staff login), saved under {settings.DEMO_MAIL_DIR}/"
            )

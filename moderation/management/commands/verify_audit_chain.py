from django.core.management.base import BaseCommand, CommandError

from moderation.audit import verify_chain


class Command(BaseCommand):
    help = "Walk the audit log's hash chain and name the first broken link, if any."

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.ok:
            raise CommandError(
                f"Audit chain broken at event #{report.broken_at}: {report.problem} "
                f"({report.checked} events verified before it)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events verified."))

from django.core.management.base import BaseCommand, CommandError

from moderation.audit import verify_chain
from moderation.audit_sequencer import AuditLogTampered, run_sequencer


class Command(BaseCommand):
    help = (
        "Chain what is waiting, then walk the audit log's hash chain, check every signed head's "
        "signature and hold the heads against the table; names what was tampered with."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-integrate", action="store_true", help="Only verify: do not chain waiting events or sign a head first."
        )

    def handle(self, *args, no_integrate=False, **options):
        if not no_integrate:
            try:
                run_sequencer()
            except AuditLogTampered as exc:
                self.stderr.write(f"Sequencer refused to continue: {exc}")
        report = verify_chain()
        if not report.ok:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))

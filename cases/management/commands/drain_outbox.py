from datetime import timedelta

from django.core.management.base import BaseCommand

from cases.services.enforcement import drain_outbox


class Command(BaseCommand):
    help = "Re-enqueue enforcement outbox entries whose job never ran (run it from cron every minute)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=60, help="Seconds an entry must have waited.")

    def handle(self, *args, older_than, **options):
        count = drain_outbox(older_than=timedelta(seconds=older_than))
        self.stdout.write(f"Re-enqueued {count} outbox entr{'y' if count == 1 else 'ies'}.")

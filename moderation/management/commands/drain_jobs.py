from django.core.management.base import BaseCommand

from moderation.outbox import drain_jobs


class Command(BaseCommand):
    help = "Hand every due background job of the outbox to RQ (cron runs it every 30 s; this is for by hand)."

    def handle(self, *args, **options):
        count = drain_jobs()
        self.stdout.write(f"Handed {count} job(s) to RQ.")

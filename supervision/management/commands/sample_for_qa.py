from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from supervision.services import sample_recent_decisions


class Command(BaseCommand):
    help = (
        "Draw recent final decisions into the QA queue by the sampling rules, and top up golden cases. "
        "Run it every few minutes; each decision gets one stable draw, so re-runs add nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since-hours", type=int, default=48, help="How far back to look for decisions.")

    def handle(self, *args, since_hours, **options):
        samples = sample_recent_decisions(since=timezone.now() - timedelta(hours=since_hours))
        golden = sum(1 for s in samples if s.kind == "golden")
        self.stdout.write(f"QA: {len(samples) - golden} decisions sampled, {golden} golden cases mixed in.")

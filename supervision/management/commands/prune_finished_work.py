from django.core.management.base import BaseCommand

from supervision.pruning import BATCH, prune_finished_work


class Command(BaseCommand):
    help = (
        "Delete finished background jobs and enforcement outbox entries older than the 'finished work' "
        "retention rule (and stale sign-in link requests), in batches; one audit row per run. "
        "The daily retention job does the same; failed rows stay until someone resolves them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=BATCH, help="Rows deleted per transaction.")

    def handle(self, *args, batch, **options):
        report = prune_finished_work(batch=batch)
        counts = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in report.deleted.items())
        self.stdout.write(f"Pruned {counts or 'nothing'} in {report.batches} batch(es).")

import time
from datetime import date

from django.core.management.base import BaseCommand

from supervision.services import roll_up_supervision_days


class Command(BaseCommand):
    help = (
        "Fill the supervisor dashboard's daily rollup: every day from the first case or signal (or --since) "
        "not rolled up to its end yet, today up to 15 minutes ago, and days a later write marked stale. "
        "The scheduled job does the same every few minutes; use this to backfill after installing or with "
        "--all after changing TIME_ZONE. Does nothing off PostgreSQL."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=date.fromisoformat, default=None, help="First day (YYYY-MM-DD).")
        parser.add_argument("--all", action="store_true", help="Recount days already rolled up as well.")

    def handle(self, *args, since, **options):
        started = time.perf_counter()
        run = roll_up_supervision_days(since=since, everything=options["all"])
        span = f" ({run.days[0][0]} to {run.days[-1][0]})" if run.days else ""
        self.stdout.write(
            f"Rolled up {len(run.days)} day(s){span}, {run.stale_marks} stale mark(s) cleared, "
            f"in {time.perf_counter() - started:.1f}s."
        )

"""Fill the database with a platform of benchmark size (bench/datagen.py)."""

from django.core.management.base import BaseCommand, CommandError

from bench.datagen import FULL_SIZES, generate


class Command(BaseCommand):
    help = (
        "Load a synthetic platform by COPY: "
        + ", ".join(f"{size:,} {name.replace('_', ' ')}" for name, size in FULL_SIZES.items())
        + " at --scale 1. Never run it against a production database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (e.g. 0.01 in CI)")
        parser.add_argument("--seed", type=int, default=16)
        parser.add_argument("--prefix", default="gen", help="platform-id prefix; one load per prefix")
        parser.add_argument(
            "--no-signatures",
            action="store_true",
            help="skip the near-duplicate index (most of a full load's time) when no benchmark looks stories up",
        )

    def handle(self, *args, scale, seed, prefix, no_signatures, **options):
        if scale <= 0:
            raise CommandError("--scale must be positive")
        try:
            data = generate(scale=scale, seed=seed, prefix=prefix, progress=self.stdout.write, signed=not no_signatures)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for line in data.lines():
            self.stdout.write(line)

import argparse
import os
import resource
import sys
import time
from contextlib import contextmanager, nullcontext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moderation.settings_test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from bench import registry  # noqa: E402


@contextmanager
def throwaway_database():
    old = setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        yield
    finally:
        teardown_databases(old, verbosity=0)


def _factory_sequences_past_earlier_runs() -> None:
    """The factories the benchmarks build staff and writers with number them from 0 in
    every process; on a database an earlier run left its rows in, start past them."""
    from factory.django import DjangoModelFactory

    import tests.factories as factories

    start = int(time.time() * 1000) % 10**12
    for value in vars(factories).values():
        if isinstance(value, type) and issubclass(value, DjangoModelFactory) and value is not DjangoModelFactory:
            value.reset_sequence(start)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(registry.BENCHMARKS)}")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply data sizes (e.g. 0.1 for a smoke run)")
    parser.add_argument(
        "--existing-database",
        action="store_true",
        help="run on the database DATABASE_URL names, as it is (e.g. one `generate_platform_data` filled), "
        "instead of a throwaway one; benchmarks add their own rows to it",
    )
    args = parser.parse_args(argv)
    names = args.names or list(registry.BENCHMARKS)
    unknown = set(names) - set(registry.BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if args.existing_database:
        _factory_sequences_past_earlier_runs()
    with nullcontext() if args.existing_database else throwaway_database():
        print(f"database: {connection.vendor}  scale: {args.scale}")
        for name in names:
            started = time.perf_counter()
            for line in registry.BENCHMARKS[name](args.scale):
                print(f"  {name}: {line}")
            print(f"  {name}: total {time.perf_counter() - started:.1f}s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak_mb:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark registry: each benchmark takes a scale factor and yields printable lines."""

from collections.abc import Callable, Iterator

BENCHMARKS: dict[str, Callable[[float], Iterator[str]]] = {}


def benchmark(name: str):
    def register(func):
        BENCHMARKS[name] = func
        return func

    return register


from bench import (  # noqa: E402,F401
    bench_audit,
    bench_enforcement,
    bench_evidence,
    bench_ingest,
    bench_mirror,
    bench_platform,
    bench_purge,
    bench_raw,
    bench_strikes,
)

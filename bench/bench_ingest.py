import time

from django.db import connection, reset_queries

from bench.registry import benchmark
from cases.models import Case, Signal
from cases.services.intake import SignalIn, create_api_client, ingest_signals
from moderation.models import Policy


def _items(prefix: str, count: int, accounts: int, policy: Policy):
    for n in range(count):
        yield SignalIn(
            idempotency_key=f"{prefix}-{n}",
            source="detector",
            account=f"bench-acct-{n % accounts}",
            account_data={"handle": f"bench_{prefix}_{n % accounts}", "follower_count": n % 5000},
            policy=policy,
            detector_name="ai-text-classifier",
            detector_version="2.3.0",
            score=0.5 + (n % 50) / 100,
            payload={"model": "bench", "n": n},
        )


@benchmark("ingest")
def ingest(scale: float):
    """Signals through the service, as the API hands them over (validation excluded)."""
    client, _ = create_api_client(name="bench-detector", allowed_sources=["detector"])
    policy = Policy.objects.current().get(code="ai.undisclosed_generated")
    count = max(200, int(5_000 * scale))

    items = list(_items("spread", count, accounts=count // 5, policy=policy))
    queries = []

    def counted(execute, sql, params, many, context):
        # Counted here, not from the query log, which keeps only the last 9,000.
        queries.append(1)
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(counted):
        results = ingest_signals(client=client, items=items)
    elapsed = time.perf_counter() - started
    assert all(r.status == "stored" for r in results)
    yield (
        f"{count} detector signals over {count // 5} accounts: {count / elapsed:,.0f} signals/s, "
        f"{len(queries) / count:.1f} queries each, {Case.objects.count()} cases opened"
    )

    reset_queries()
    started = time.perf_counter()
    results = ingest_signals(client=client, items=items)
    elapsed = time.perf_counter() - started
    assert all(r.status == "duplicate" for r in results)
    yield f"the same {count} again (duplicates): {count / elapsed:,.0f} signals/s"

    hot = list(_items("hot", min(count, 2_000), accounts=1, policy=policy))
    started = time.perf_counter()
    ingest_signals(client=client, items=hot)
    elapsed = time.perf_counter() - started
    yield f"{len(hot)} signals joining one case: {len(hot) / elapsed:,.0f} signals/s"
    assert Signal.objects.count() == count + len(hot)

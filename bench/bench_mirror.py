import time

from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from bench.registry import benchmark
from cases.services.intake import create_api_client


def _timed(api, url, body):
    queries = []

    def counted(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(counted):
        response = api.post(url, body, format="json")
    seconds = time.perf_counter() - started
    assert response.status_code in (200, 201), response.content[:500]
    counts = {k: v for k, v in response.json().items() if k != "results" and v}
    return f"{len(body):,} items in {seconds:.2f}s ({len(body) / seconds:,.0f}/s, {len(queries)} queries) {counts}"


@benchmark("mirror")
def mirror(scale: float):
    """Full batches through the platform mirror API (validation, one transaction, audit)."""
    _, key = create_api_client(name="bench-platform", scopes=["platform"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    n = max(200, int(10_000 * scale))
    at = timezone.now().isoformat()
    accounts = [
        {"platform_id": f"m{i}", "sequence": 1, "handle": f"m_{i}", "email": f"m{i}@example.com", "follower_count": i}
        for i in range(n)
    ]
    yield "accounts created:  " + _timed(api, "/api/v1/platform/accounts/", accounts)
    updates = [{"platform_id": f"m{i}", "sequence": 2, "follower_count": i + 1} for i in range(n)]
    yield "accounts updated (one audit row each): " + _timed(api, "/api/v1/platform/accounts/", updates)
    yield "same batch again: " + _timed(api, "/api/v1/platform/accounts/", updates)
    follows = [
        {"follower": f"m{i}", "followee": f"m{(i * 7 + 1) % n}", "action": "follow", "sequence": 1, "occurred_at": at}
        for i in range(n)
    ]
    yield "follows:           " + _timed(api, "/api/v1/platform/follows/", follows)
    claps = [
        {
            "id": f"e{i}",
            "kind": "clap",
            "actor": f"m{i}",
            "target": f"m{(i + 1) % n}",
            "count": 3,
            "occurred_at": at,
            "sequence": i,
        }
        for i in range(n)
    ]
    yield "engagement events: " + _timed(api, "/api/v1/platform/engagement/", claps)

import time

from django.db import transaction

from bench.registry import benchmark
from moderation.audit import record_event, verify_chain
from moderation.models import Account


@benchmark("audit")
def audit_log(scale: float):
    """Audit writes serialise on one chain head; this shows what that costs."""
    events = max(200, int(20_000 * scale))
    account = Account.objects.create(platform_id="bench-audit", handle="bench_audit")
    started = time.perf_counter()
    for _ in range(events):
        with transaction.atomic():
            record_event(actor=None, verb="account.status_changed", target=account, after={"status": "active"})
    elapsed = time.perf_counter() - started
    per_event_us = elapsed * 1e6 / events
    yield f"record_event: {events} events, {events / elapsed:,.0f}/s ({per_event_us:.0f} µs each, own transaction)"
    started = time.perf_counter()
    report = verify_chain()
    elapsed = time.perf_counter() - started
    assert report.ok and report.checked == events
    yield f"verify_chain: {report.checked} events in {elapsed:.2f}s ({report.checked / elapsed:,.0f} events/s)"

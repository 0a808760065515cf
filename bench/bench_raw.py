"""Registered benchmarks printing the project against raw PostgreSQL (bench/against_raw.py)."""

from django.db import connection

from bench import against_raw
from bench.registry import benchmark


def _postgres_only():
    if connection.vendor != "postgresql":
        raise SystemExit("These benchmarks compare against raw PostgreSQL: set DATABASE_URL to a PostgreSQL database.")


@benchmark("ingest_vs_raw")
def ingest_vs_raw(scale: float):
    _postgres_only()
    with against_raw.jobs_to_redis():
        f = against_raw.measure_ingest(scale)
    yield (
        f"{f['posters']} posters × {f['requests'] // f['posters']} batches of {f['batch']} over HTTP to gunicorn "
        f"(make serve's options): {f['requests']} requests, {f['errors']} errors {f['error_samples'] or ''}"
    )
    yield (
        f"{f['stored']} of {f['unique_signals']} unique signals stored once, {f['cases']} cases, "
        f"{f['seconds']:.1f}s: {f['signals_per_s']:,.0f} signals/s, request p95 {f['request_p95_ms']:,.0f} ms"
    )
    yield f"CPU per signal stored: {_cpu_line(f)}"
    inner = f["in_process"]
    yield (
        f"the same plan on fresh keys through the API view in-process (test client, 8 threads in one "
        f"process): {inner['errors']} errors, {inner['stored']} of {inner['unique_signals']} stored, "
        f"{inner['seconds']:.1f}s: {inner['signals_per_s']:,.0f} signals/s, "
        f"request p95 {inner['request_p95_ms']:,.0f} ms; CPU per signal: {_cpu_line(inner, server='this process')}"
    )
    yield (
        f"raw multi-row INSERT (8 connections) {f['raw_insert_rows_per_s']:,.0f} rows/s, "
        f"COPY {f['raw_copy_rows_per_s']:,.0f} rows/s"
    )
    yield (
        f"ratio (gunicorn): project = {f['ingest_share_of_raw_insert']:.2%} of raw INSERT, "
        f"{f['ingest_share_of_raw_copy']:.2%} of COPY (target ≥ 5,000/s and ≥ 10% of INSERT, 0 errors)"
    )


def _cpu_line(f: dict, *, server: str = "gunicorn") -> str:
    """CPU ms per signal stored (steadier than wall time on a box other runs load)."""

    def ms(name):
        value = f.get(f"{name}_cpu_ms_per_signal")
        return "n/a" if value is None else f"{value:.3f} ms"

    if server == "this process":
        return f"this process (clients and server) {ms('client')}"
    return f"gunicorn {ms('server')}, PostgreSQL backends {ms('database')}, posting clients {ms('client')}"


@benchmark("claim_vs_raw")
def claim_vs_raw(scale: float):
    _postgres_only()
    with against_raw.jobs_to_redis():
        f = against_raw.measure_claims(scale)
    yield (
        f"{f['reviewers']} reviewers in-process on {f['queue_cases']} cases: {f['claims']} claims, "
        f"{f['errors']} errors, {f['double_claims']} double claims; p50 {f['claim_p50_ms']:.0f} ms, "
        f"p95 {f['claim_p95_ms']:.0f} ms, {f['claims_per_s']:.0f} claims/s"
    )
    yield (
        f"raw SKIP LOCKED + UPDATE from 20 connections: p50 {f['raw_p50_ms']:.0f} ms, p95 {f['raw_p95_ms']:.0f} ms, "
        f"{f['raw_claims_per_s']:.0f} claims/s, {f['raw_double_claims']} double claims"
    )
    yield f"ratio: claim p95 = {f['claim_p95_over_raw']:.1f}× raw (target ≤ 1.5×)"


@benchmark("review_http")
def review_http(scale: float):
    _postgres_only()
    with against_raw.jobs_to_redis():
        f = against_raw.measure_review_http(scale)
    yield (
        f"Review next over HTTP (gunicorn, {f['served_by']}), 20 reviewers: {f['requests']} requests, "
        f"{f['errors']} errors {f['error_samples'] or ''}, {f['double_claims']} double claims; "
        f"p50 {f['next_p50_ms']:.0f} ms, p95 {f['next_p95_ms']:.0f} ms"
    )
    yield (
        f"CPU a press: server {f['server_cpu_ms']:.2f} ms, PostgreSQL {f['postgres_cpu_ms']:.2f} ms, "
        f"client {f['client_cpu_ms']:.2f} ms (raw a claim: PostgreSQL {f['raw_postgres_cpu_ms']:.2f} ms, "
        f"client {f['raw_client_cpu_ms']:.2f} ms)"
    )
    yield f"raw SKIP LOCKED p95 {f['raw_p95_ms']:.0f} ms; ratio {f['next_p95_over_raw']:.1f}× (target ≤ 3×)"
    yield f"review page, 1 client over HTTP: p95 {f['review_page_p95_ms']:.0f} ms (target ≤ 150 ms)"


@benchmark("pages")
def pages(scale: float):
    with against_raw.jobs_to_redis():
        figures = against_raw.measure_pages(scale)
    for name, f in figures.items():
        yield f"{name}: HTTP {f['status']}, p95 {f['p95_ms']:.0f} ms, {f['queries']} queries"

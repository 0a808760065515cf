"""The project against raw PostgreSQL doing the same work in the same run (issue 16).

Each measure returns its figures as a dict (the CI test, tests/bench/test_bench_ratios.py,
checks them against RATIO_FLOORS); bench_raw.py prints them. PostgreSQL only.

- ingest: 8 posters, each a thread with its own connection, post overlapping batches
  (partly repeated idempotency keys, shared accounts and stories, new to the
  back-office) over HTTP to gunicorn serving the project as `make serve` does
  (bench/served.py), 8 `requests` sessions, each warmed up by one untimed small batch,
  bodies encoded before the clock; then (figures under "in_process") the same
  plan on fresh keys through the API view with Django's in-process test client. Raw: the same
  unique rows, read back from cases_signal, inserted into a copy of the table (its
  indexes and unique key, no foreign keys) by multi-row INSERT from 8 connections, and
  by COPY from one.
- claim: 20 reviewers in-process, each a thread with its own connection, call
  claim_next_case; raw: 20 connections loop SELECT … FOR UPDATE SKIP LOCKED LIMIT 1 +
  UPDATE on a queue of the same size. After each claim the case is closed by a plain
  UPDATE outside the timing (as a decision would), so the next claim finds the next case.
- review_http: the same 20 reviewers press "Review next" over HTTP against gunicorn
  serving the project as `make serve` does (bench/served.py), and one reviewer loads
  the review page.
- pages: p95 of the staff pages with one client, and their query counts.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

POSTERS = 8
REVIEWERS = 20
WARM_UP = 2  # untimed "Review next" presses per reviewer before the HTTP clock starts
CLAIMABLE_SQL = "('open', 'in_review', 'escalated')"

# What the CI run (scaled down, a loaded 2-core machine) must keep: far looser than the
# targets in issue 16 (those are for the full run, see bench/RESULTS.md), tight enough
# that a lost index, a per-signal query loop or a lock convoy breaks them.
RATIO_FLOORS = {
    "ingest_share_of_raw_insert": 0.002,  # project signals/s ÷ raw INSERT rows/s
    # project claim p95 ÷ raw SKIP LOCKED p95. The claim is one prepared statement
    # (cases.claim_statement): 2-5× at this scale on a loaded box, where each reviewer's
    # first claim (its permission reads, preparing the statement) is the p95.
    "claim_p95_over_raw": 12.0,
}


def p(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, in milliseconds when they are seconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def in_threads(count: int, work: Callable[[int], None]) -> list[str]:
    """Run work(i) in `count` threads started together; their errors, as text."""
    barrier = threading.Barrier(count)
    errors: list[str] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(i)
        except Exception as exc:  # counted, printed by the caller
            errors.append(repr(exc)[:300])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@contextmanager
def jobs_to_redis():
    """As in production: jobs (and the audit sequencer) go to RQ after commit instead of
    running inline in the request, as the test settings have them; the audit sequencer
    runs on its own schedule (cron), not after each commit. Without a REDIS_URL
    they stay inline (and the figures say less). The queued jobs are dropped after."""
    if not settings.REDIS_URL:
        yield
        return
    import django_rq

    with override_settings(JOBS_RUN_INLINE=False, AUDIT={**settings.AUDIT, "SEQUENCER_INLINE": None}):
        try:
            yield
        finally:
            for name in settings.RQ_QUEUES:
                django_rq.get_queue(name).empty()


def signed_in(user) -> Client:
    """A test client signed in as `user`, second factor passed (as the suite's conftest does)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    client = Client()
    client.force_login(user)
    device, _ = StaticDevice.objects.get_or_create(user=user, name="bench sign-in")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def raw_connection():
    """A psycopg connection of its own to the same database, autocommitting."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)  # Django's client-side binding: raw SQL binds on the server
    return psycopg.connect(**params, autocommit=True)


# --- ingest ---------------------------------------------------------------------------


def _signal(n: int, accounts: int, stories: int, prefix: str = "b") -> dict:
    if n % 2:
        story = n % stories
        account = story % accounts
        extra = {
            "story": f"{prefix}-story-{story}",
            "story_data": {"title": f"Story {story}", "body": "Delve into it.", "paywalled": True},
        }
    else:
        account, extra = n % accounts, {}
    return {
        "idempotency_key": f"{prefix}-{n}",
        "source": "detector",
        "account": f"{prefix}-acct-{account}",
        "account_data": {"handle": f"{prefix}writer{account}", "follower_count": account % 5000},
        "policy": "ai.paywalled_generated" if n % 3 else "spam.duplicate",
        "detector": {"name": "ai-text-classifier", "version": "2.3.0"},
        "score": round(0.5 + (n % 50) / 100, 2),
        "payload": {"n": n},
        **extra,
    }


def ingest_batches(scale: float, *, prefix: str = "b") -> list[list[list[dict]]]:
    """Per poster, its batches: each batch shares a fifth of its keys with the next
    poster's, and repeats a twentieth of its own; accounts and stories are shared.
    Another `prefix` gives the same plan on keys, accounts and stories of its own."""
    size = max(40, int(1000 * scale))
    rounds = 2
    accounts, stories = max(20, size // 4), max(10, size // 8)
    step = size * 4 // 5
    plan = []
    for poster in range(POSTERS):
        batches = []
        for r in range(rounds):
            start = (r * POSTERS + poster) * step
            keys = list(range(start, start + size - size // 20))
            keys += keys[: size // 20]
            batches.append([_signal(n, accounts, stories, prefix) for n in keys])
        plan.append(batches)
    return plan


def measure_ingest(scale: float, *, in_process: bool = True) -> dict:
    """The plan of batches posted over HTTP to gunicorn (as production serves it): the
    headline figures. With `in_process`, the same plan again (its own keys, accounts and
    stories) through Django's test client, under "in_process"."""
    from bench.served import gunicorn

    # Accounts and stories new to the back-office in every run, also when runs follow each
    # other on one --existing-database (a fixed prefix would have later runs join the
    # first run's cases: a cheaper plan).
    run = f"{random.randrange(36**5):x}"
    with gunicorn() as base:
        figures = _post_plan(scale, prefix=f"h{run}", poster_for=_http_poster(base), served=base)
    if in_process:
        figures["in_process"] = _post_plan(scale, prefix=f"p{run}", poster_for=_test_client_poster)
    figures.update(_raw_inserts(figures.pop("keys")))
    figures["ingest_share_of_raw_insert"] = figures["signals_per_s"] / figures["raw_insert_rows_per_s"]
    figures["ingest_share_of_raw_copy"] = figures["signals_per_s"] / figures["raw_copy_rows_per_s"]
    if in_process:
        figures["in_process"].pop("keys")
    return figures


def _http_poster(base: str):
    def poster_for(key: str):
        import requests

        http = requests.Session()
        http.headers["Authorization"] = f"Api-Key {key}"
        http.headers["Content-Type"] = "application/json"

        def post(body: bytes) -> int:
            return http.post(f"{base}/api/v1/signals/", data=body, timeout=120).status_code

        return post

    return poster_for


def _test_client_poster(key: str):
    client = Client()

    def post(body: bytes) -> int:
        response = client.post(
            "/api/v1/signals/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}"
        )
        return response.status_code

    return post


WARM_UP_SIGNALS = 10  # per poster, untimed, on keys, accounts and stories of their own


def _post_plan(scale: float, *, prefix: str, poster_for, served: str | None = None) -> dict:
    """8 poster threads, each posting its batches in turn; what they were answered.

    Bodies are encoded before the clock starts, as the raw side's rows are read and
    adapted before its clock starts. Each poster first sends one small batch, untimed
    (its connection opened, the server's views imported and its database connections
    opened: start-up, not ingest; the raw side's connections are not timed either)."""
    from cases.models import Case, Signal
    from cases.services.intake import create_api_client

    _, key = create_api_client(name=f"bench-posters-{random.randrange(10**9)}", allowed_sources=["detector"])
    plan = ingest_batches(scale, prefix=prefix)
    bodies = [[json.dumps(body).encode() for body in batches] for batches in plan]
    posts = [poster_for(key) for _ in range(POSTERS)]
    answers: list[tuple[int, float]] = []

    def warm_up(i: int) -> None:
        body = [_signal(n, WARM_UP_SIGNALS, WARM_UP_SIGNALS, f"{prefix}-warm-{i}") for n in range(WARM_UP_SIGNALS)]
        code = posts[i](json.dumps(body).encode())
        if code not in (200, 201):
            raise AssertionError(f"warm-up answered {code}")

    def poster(i: int) -> None:
        for body in bodies[i]:
            started = time.perf_counter()
            code = posts[i](body)
            answers.append((code, time.perf_counter() - started))

    warm_up_errors = in_threads(POSTERS, warm_up)
    before, cases_before = Signal.objects.count(), Case.objects.count()
    cpu_before = _cpu(served)
    started = time.perf_counter()
    errors = warm_up_errors + in_threads(POSTERS, poster)
    elapsed = time.perf_counter() - started
    cpu_used = {name: _less(after, cpu_before[name]) for name, after in _cpu(served).items()}
    unique = {item["idempotency_key"] for batches in plan for batch in batches for item in batch}
    stored = Signal.objects.count() - before
    return {
        "posters": POSTERS,
        "batch": len(plan[0][0]),
        "requests": len(answers),
        "errors": len(errors) + sum(code not in (200, 201) for code, _ in answers),
        "error_samples": errors[:3] + [code for code, _ in answers if code not in (200, 201)][:3],
        "unique_signals": len(unique),
        "stored": stored,
        "cases": Case.objects.count() - cases_before,
        "seconds": elapsed,
        "signals_per_s": stored / elapsed,
        "request_p95_ms": p([t for _, t in answers], 0.95),
        **{f"{name}_cpu_ms_per_signal": _per(seconds, stored) for name, seconds in cpu_used.items()},
        "keys": unique,
    }


def _cpu(served: str | None) -> dict:
    """CPU seconds used so far by the server (the gunicorn serving `served`), its
    connections' PostgreSQL backends (they live through the run; in-process, each poster
    thread's connection ends with it, its CPU unread: None) and this process (the
    posting clients, and in-process the server too)."""
    from bench.served import cpu_seconds, postgres_cpu_seconds

    return {
        "server": cpu_seconds(served) if served else None,
        "database": postgres_cpu_seconds() if served else None,
        "client": time.process_time(),
    }


def _less(after, before):
    return None if after is None or before is None else after - before


def _per(seconds, count: int):
    return None if seconds is None or not count else seconds * 1000 / count


def _raw_inserts(keys: set[str]) -> dict:
    """The stored rows again, into copies of cases_signal: multi-row INSERT from 8
    connections (1,000 rows a statement), then COPY from one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM cases_signal WHERE idempotency_key = ANY(%s) ORDER BY id", [sorted(keys)])
        columns = [c.name for c in cursor.description if c.name != "id"]
        rows = [row[1:] for row in cursor.fetchall()]
    from psycopg.types.json import Jsonb

    rows = [tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row) for row in rows]
    names = ", ".join(columns)
    conn = raw_connection()
    try:
        for table in ("bench_raw_insert", "bench_raw_copy"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} (LIKE cases_signal INCLUDING ALL)")
        shares = [rows[i::POSTERS] for i in range(POSTERS)]

        def inserter(i: int) -> None:
            own = raw_connection()
            try:
                share = shares[i]
                for start in range(0, len(share), 1000):
                    part = share[start : start + 1000]
                    values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(part))
                    own.execute(
                        f"INSERT INTO bench_raw_insert ({names}) VALUES {values}",
                        [v for row in part for v in row],
                    )
            finally:
                own.close()

        started = time.perf_counter()
        in_threads(POSTERS, inserter)
        insert_s = time.perf_counter() - started
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(f"COPY bench_raw_copy ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        copy_s = time.perf_counter() - started
        for table in ("bench_raw_insert", "bench_raw_copy"):
            conn.execute(f"DROP TABLE {table}")
    finally:
        conn.close()
    return {"raw_insert_rows_per_s": len(rows) / insert_s, "raw_copy_rows_per_s": len(rows) / copy_s}


# --- claims ---------------------------------------------------------------------------


def fill_queue(queue, count: int, *, seed: int = 16) -> list:
    """`count` open cases in `queue`, in mixed priorities and ages, in one statement."""
    from cases.models import Case
    from moderation.models import Account, Policy

    pol = Policy.objects.current().get(code="spam.duplicate")
    stamp = random.randrange(10**9)
    accounts = Account.objects.bulk_create(
        [Account(platform_id=f"q-{stamp}-{n}", handle=f"q{stamp}x{n}") for n in range(max(1, count // 10))]
    )
    now, rng = timezone.now(), random.Random(seed)
    return Case.objects.bulk_create(
        [
            Case(
                account=accounts[n % len(accounts)],
                policy_family=f"bench-{n}",
                policy=pol,
                queue=queue,
                priority=rng.randint(0, 100),
                opened_at=now - timedelta(minutes=rng.randint(0, 6000)),
                sla_due_at=now + timedelta(days=1),
            )
            for n in range(count)
        ],
        batch_size=2000,
    )


def _team(count: int) -> list:
    from tests.factories import moderator

    return [moderator() for _ in range(count)]


def _queue(slug: str):
    from tests.factories import QueueFactory

    return QueueFactory(slug=f"{slug}-{random.randrange(10**9)}")


def measure_claims(scale: float) -> dict:
    from cases.services import review
    from moderation.auth_backends import signed_in_user

    cases = max(300, int(5000 * scale))
    per_reviewer = max(5, int(25 * scale))
    project, raw = _queue("bench-claims"), _queue("bench-raw")
    fill_queue(project, cases)
    fill_queue(raw, cases)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_case")
    # Each reviewer as a signed-in request has it: loaded by the authentication backend
    # with its roles and permissions (moderation.auth_backends), not a bare factory row.
    team = [signed_in_user(user.pk) for user in _team(REVIEWERS)]
    took: list[tuple[int, float]] = []

    def reviewer(i: int) -> None:
        connection.ensure_connection()  # as the raw loop: connected before the clock starts
        for _ in range(per_reviewer):
            started = time.perf_counter()
            case = review.claim_next_case(user=team[i], queue=project)
            took.append((case.pk, time.perf_counter() - started))
            # Untimed, but it holds the GIL the other reviewers wait for: the raw loop's
            # own statement, not an ORM update (which cost as much Python as a claim).
            with connection.cursor() as cursor:
                cursor.execute(CLOSE_SQL, [case.pk])

    started = time.perf_counter()
    errors = in_threads(REVIEWERS, reviewer)
    project_s = time.perf_counter() - started
    raw_took = _raw_claims(raw.pk, [u.pk for u in team], per_reviewer)
    figures = {
        "reviewers": REVIEWERS,
        "queue_cases": cases,
        "claims": len(took),
        "errors": len(errors),
        "error_samples": errors[:3],
        "double_claims": len(took) - len({pk for pk, _ in took}),
        "claim_p50_ms": p([t for _, t in took], 0.5),
        "claim_p95_ms": p([t for _, t in took], 0.95),
        "claims_per_s": len(took) / project_s,
        "raw_double_claims": raw_took["double"],
        "raw_p50_ms": p(raw_took["times"], 0.5),
        "raw_p95_ms": p(raw_took["times"], 0.95),
        "raw_claims_per_s": raw_took["per_s"],
    }
    figures["claim_p95_over_raw"] = figures["claim_p95_ms"] / figures["raw_p95_ms"]
    return figures


# After each claim, in both loops: the case leaves the queue as a decision would take it.
CLOSE_SQL = (
    "UPDATE cases_case SET status = 'dismissed', decided_at = now(), assignee_id = NULL, "
    "claim_expires_at = NULL WHERE id = %s"
)


def _raw_claims(queue_id: int, users: list[int], per_reviewer: int) -> dict:
    times: list[float] = []
    claimed: list[int] = []
    pick = (
        "SELECT id FROM cases_case WHERE queue_id = %s AND status IN " + CLAIMABLE_SQL + " "
        "AND (assignee_id IS NULL OR claim_expires_at <= now()) "
        "ORDER BY priority DESC, opened_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    take = (
        "UPDATE cases_case SET assignee_id = %s, claim_expires_at = now() + interval '15 minutes', "
        "status = 'in_review', updated_at = now() WHERE id = %s"
    )
    # The loop's CPU (its backends', this process's) is read by `clock` once every
    # connection is open and again before any closes: connecting is not a claim.
    backends: list[int] = []
    edges = threading.Barrier(REVIEWERS + 1)
    cpu: list[tuple[float, float]] = []

    def reviewer(i: int) -> None:
        conn = raw_connection()
        backends.append(conn.info.backend_pid)
        try:
            edges.wait(timeout=30)
            for _ in range(per_reviewer):
                started = time.perf_counter()
                with conn.transaction():
                    (pk,) = conn.execute(pick, [queue_id]).fetchone()
                    conn.execute(take, [users[i], pk])
                times.append(time.perf_counter() - started)
                claimed.append(pk)
                conn.execute(CLOSE_SQL, [pk])
            edges.wait(timeout=60)
        except Exception:
            edges.abort()  # no CPU figures, rather than a clock waiting for this reviewer
            raise
        finally:
            conn.close()

    def clock() -> None:
        try:
            for _ in range(2):
                edges.wait(timeout=60)
                cpu.append((_backends_cpu_seconds(backends), time.process_time()))
        except threading.BrokenBarrierError:
            cpu[:] = [(float("nan"), float("nan"))] * 2

    clock_thread = threading.Thread(target=clock)
    clock_thread.start()
    started = time.perf_counter()
    in_threads(REVIEWERS, reviewer)
    elapsed = time.perf_counter() - started
    clock_thread.join()
    per_claim = 1000 / max(1, len(claimed))
    return {
        "times": times,
        "double": len(claimed) - len(set(claimed)),
        "per_s": len(claimed) / elapsed,
        "postgres_cpu_ms": (cpu[1][0] - cpu[0][0]) * per_claim,
        "client_cpu_ms": (cpu[1][1] - cpu[0][1]) * per_claim,
    }


def _backends_cpu_seconds(pids: list[int]) -> float:
    from bench.served import process_cpu_seconds

    return sum(process_cpu_seconds(pid) for pid in pids)


# --- Review next over HTTP ---------------------------------------------------------------


def measure_review_http(scale: float) -> dict:
    from bench.served import gunicorn, shape

    per_reviewer = max(3, int(15 * scale))
    queue = _queue("bench-http")
    fill_queue(queue, max(200, REVIEWERS * (per_reviewer + WARM_UP) * 2))
    raw_queue = _queue("bench-http-raw")
    fill_queue(raw_queue, max(200, REVIEWERS * per_reviewer * 2))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_case")
    team = _team(REVIEWERS)
    cookies = [_session_cookies(user) for user in team]
    next_path = f"/admin/review/queue/{queue.slug}/next/"
    took: list[tuple[int, float]] = []
    codes: list[int] = []

    def reviewer(i: int, presses: int, timed: bool = True) -> None:
        browser = Browser(base_url[0], cookies[i])
        try:
            for _ in range(presses):
                started = time.perf_counter()
                status, location = browser.request("POST", next_path)
                elapsed = time.perf_counter() - started
                if timed:
                    codes.append(status)
                if "/case/" not in location:
                    raise AssertionError(f"Review next answered {status} {location}")
                pk = int(location.rstrip("/").rsplit("/", 1)[-1])
                if timed:
                    took.append((pk, elapsed))
                # As the raw loop closes its case, on a connection of its own opened before
                # the clock (the client's CPU is taken from the server it measures).
                closers[i].execute(CLOSE_SQL, [pk])
        finally:
            browser.close()

    base_url = []
    closers = [raw_connection() for _ in range(REVIEWERS)]
    with gunicorn() as base, _closing(closers):
        base_url.append(base)
        # A served process's first requests import the views, open connections and
        # prepare statements: that is start-up, not Review next (the raw loop's
        # connections are open before its clock starts too).
        errors = in_threads(REVIEWERS, lambda i: reviewer(i, WARM_UP, timed=False))
        cpu = _cpu_now(base)
        errors += in_threads(REVIEWERS, lambda i: reviewer(i, per_reviewer))
        cpu = {key: (value - cpu[key]) * 1000 / max(1, len(took)) for key, value in _cpu_now(base).items()}
        page_times = []
        first = Browser(base, cookies[0])
        _, page = first.request("POST", next_path)
        for _ in range(max(10, int(40 * scale))):
            started = time.perf_counter()
            status, _ = first.request("GET", page)
            page_times.append(time.perf_counter() - started)
            assert status == 200, status
        first.close()
    raw = _raw_claims(raw_queue.pk, [u.pk for u in team], per_reviewer)
    figures = {
        "served_by": shape(),
        "requests": len(codes),
        "errors": len(errors) + sum(code != 302 for code in codes),
        "error_samples": errors[:3],
        "double_claims": len(took) - len({pk for pk, _ in took}),
        "next_p50_ms": p([t for _, t in took], 0.5),
        "next_p95_ms": p([t for _, t in took], 0.95),
        "raw_p95_ms": p(raw["times"], 0.95),
        "review_page_p95_ms": p(page_times, 0.95),
        "server_cpu_ms": cpu["server"],
        "postgres_cpu_ms": cpu["postgres"],
        "client_cpu_ms": cpu["client"],
        "raw_postgres_cpu_ms": raw["postgres_cpu_ms"],
        "raw_client_cpu_ms": raw["client_cpu_ms"],
    }
    figures["next_p95_over_raw"] = figures["next_p95_ms"] / figures["raw_p95_ms"]
    return figures


@contextmanager
def _closing(connections: list):
    try:
        yield
    finally:
        for conn in connections:
            conn.close()


def _cpu_now(base: str) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn serving `base`, its PostgreSQL backends, and
    this process (the client: its reviewer threads, and the case closes they run)."""
    from bench.served import cpu_seconds, postgres_cpu_seconds

    return {"server": cpu_seconds(base), "postgres": postgres_cpu_seconds(), "client": time.process_time()}


def _session_cookies(user) -> str:
    """The Cookie header of `user` signed in (a session made by force_login, second
    factor passed) with a CSRF cookie that matches Browser's X-CSRFToken header."""
    client = signed_in(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={CSRF_TOKEN}"


CSRF_TOKEN = "b" * 32


class Browser:
    """One reviewer's keep-alive HTTP/1.1 connection on a bare socket: the 20 reviewers
    share the 2 cores with the server they measure, so the client should cost about what
    the raw loop's client costs (`requests` took twice http.client's CPU a request; this
    client with its raw close ~0.3 ms a press, http.client with an ORM close ~0.55 ms).
    Redirects are not followed (Review next answers one); responses carry a
    Content-Length (Django's CommonMiddleware)."""

    def __init__(self, base: str, cookies: str):
        import socket
        from urllib.parse import urlsplit

        url = urlsplit(base)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = url.netloc
        self.headers = f"Cookie: {cookies}\r\nX-CSRFToken: {CSRF_TOKEN}\r\n"
        self.buffer = b""

    def request(self, method: str, path: str) -> tuple[int, str]:
        """(status, Location) of one request; the body is read and dropped."""
        length = "Content-Length: 0\r\n" if method == "POST" else ""
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}{length}\r\n".encode())
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        body = int(fields.get("content-length", "0"))
        while len(self.buffer) < body:
            self._receive()
        self.buffer = self.buffer[body:]
        return int(lines[0].split(" ", 2)[1]), fields.get("location", "")

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


# --- pages ------------------------------------------------------------------------------


def measure_pages(scale: float) -> dict:
    """Staff pages with one client (in-process): p95 over repeated loads, and queries."""
    from cases.models import Case
    from tests.factories import appeals_reviewer, moderator, senior_moderator, supervisor

    queue = _queue("bench-pages")
    fill_queue(queue, max(300, int(5000 * scale)))
    case = Case.objects.filter(queue=queue).first()
    appeal = _appeal()
    pages = {
        "queues (admin home)": (moderator(), "/admin/"),
        "queue page": (moderator(), f"/admin/review/queue/{queue.slug}/"),
        "case list": (moderator(), "/admin/cases/case/"),
        "review page": (moderator(), f"/admin/review/case/{case.pk}/"),
        "appeal page": (appeals_reviewer(), f"/admin/appeals/appeal/{appeal.pk}/change/"),
        "approvals": (senior_moderator(), "/admin/review/approvals/"),
        "supervisor dashboard": (supervisor(), "/admin/supervision/"),
        # The cases filled above are back-dated, so their days count live until the
        # rollup job (every 5 minutes, supervision/cron.py) has run; then, as it runs:
        "supervisor dashboard, after the rollup job": (supervisor(), "/admin/supervision/"),
    }
    loads = max(5, int(20 * scale))
    figures = {}
    for name, (user, url) in pages.items():
        if name == "supervisor dashboard":
            # The audit sequencer integrates what was recorded (every 2 s from `make cron`);
            # no cron runs here, so the benchmarks' pending events would be counted as a
            # backlog production never has (10,000 of them: 109 ms of the page).
            from moderation.audit_sequencer import run_sequencer

            run_sequencer()
        if name.endswith("after the rollup job"):
            from supervision.services import roll_up_supervision_days

            roll_up_supervision_days()
        client = signed_in(user)
        times, queries = [], []

        def counted(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            status = client.get(url).status_code
        for _ in range(loads):
            started = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - started)
        figures[name] = {"status": status, "p95_ms": p(times, 0.95), "queries": len(queries)}
    return figures


def _appeal(*, signals: int = 10, files: int = 3):
    """An appeal as writers file them (tests/appeals): against an applied paywall removal
    on a case of `signals` detector signals, with `files` attached drafts."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from appeals import services
    from tests.appeals.factories import applied_action
    from tests.factories import SignalFactory, StoryFactory

    story = StoryFactory(is_paywalled=True)
    action = applied_action("paywall.remove", story=story)
    for _ in range(signals):
        SignalFactory(detector=True, account=story.author, story=story, case=action.case)
    return services.file_appeal(
        account=action.account,
        action=action,
        writer_statement="I wrote it myself and can show the drafts to anyone who asks.",
        contact_email="writer@example.com",
        files=[SimpleUploadedFile(f"draft-{n}.pdf", b"%PDF-1.7\n" + b"x" * 32) for n in range(files)],
    )


def broken_ratios(figures: dict) -> list[str]:
    """The CI floors a run broke, in words (an empty list when it kept them all)."""
    broken = []
    ingest, claims = figures.get("ingest"), figures.get("claim")
    if ingest:
        for label, run in (("ingest", ingest), ("ingest in-process", ingest.get("in_process"))):
            if run and (run["errors"] or run["stored"] != run["unique_signals"]):
                broken.append(f"{label}: {run['errors']} errors, {run['stored']}/{run['unique_signals']} stored")
        if ingest["ingest_share_of_raw_insert"] < RATIO_FLOORS["ingest_share_of_raw_insert"]:
            broken.append(f"ingest at {ingest['ingest_share_of_raw_insert']:.2%} of raw INSERT")
    if claims:
        if claims["errors"] or claims["double_claims"]:
            broken.append(f"claims: {claims['errors']} errors, {claims['double_claims']} double claims")
        if claims["claim_p95_over_raw"] > RATIO_FLOORS["claim_p95_over_raw"]:
            broken.append(f"claim p95 {claims['claim_p95_over_raw']:.1f}× raw")
    return broken

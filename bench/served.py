"""The project served as in production (gunicorn with `make serve`'s gunicorn.conf.py)
on the benchmark's throwaway database, for the benchmarks that go over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
# The gunicorn master serving each base URL, while it serves (cpu_seconds).
_MASTERS: dict[str, int] = {}
# psycopg's application_name on the served processes' connections (settings_served), so a
# benchmark can find their PostgreSQL backends (postgres_cpu_seconds).
APPLICATION_NAME = "bench-served"


def shape(env: dict | None = None) -> str:
    """What gunicorn.conf.py makes of the environment: "2 processes × 4 threads (gthread)"."""
    import runpy
    from unittest import mock

    with mock.patch.dict(os.environ, env or {}):
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return f"{conf['workers']} processes × {conf['threads']} threads ({conf['worker_class']})"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(*, workers: int | None = None, threads: int | None = None):
    """Yield the base URL of gunicorn serving the
    project on this process's database with `make serve`'s configuration
    (gunicorn.conf.py: WEB_WORKERS × WEB_THREADS, from the environment or its defaults,
    unless given here); stop it after."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings_served",
        "BENCH_DATABASE_NAME": connection.settings_dict["NAME"],
    }
    if workers:
        env["WEB_WORKERS"] = str(workers)
    if threads:
        env["WEB_THREADS"] = str(threads)
    log_dir = tempfile.TemporaryDirectory(prefix="bench-gunicorn-")
    log_path = Path(log_dir.name) / "gunicorn.log"
    log = log_path.open("w")
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "moderation.wsgi:application",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base, server, log_path)
        _MASTERS[base] = server.pid
        yield base
    finally:
        _MASTERS.pop(base, None)
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        log_dir.cleanup()


def _wait_until_ready(base: str, server: subprocess.Popen, log: Path) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within 60 s: {log.read_text()[-3000:]}")


def process_cpu_seconds(pid: int) -> float:
    """CPU one process's live threads have used, in nanoseconds' precision (Linux
    /proc/<pid>/task/*/schedstat; a PostgreSQL backend's claim is well under the 10 ms
    tick /proc/<pid>/stat counts in); 0 once it is gone."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        with suppress(OSError):  # the thread ended meanwhile
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
    return total / 1e9


def worker_pids(base: str) -> list[int]:
    """The worker processes of the gunicorn serving `base` (Linux /proc)."""
    master = _MASTERS[base]
    try:
        return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(base: str) -> float:
    """CPU the gunicorn serving `base` has used so far: its master and current workers
    (a worker recycled by max_requests takes its share with it)."""
    return sum(process_cpu_seconds(pid) for pid in [_MASTERS[base], *worker_pids(base)])


def postgres_cpu_seconds(application_name: str = APPLICATION_NAME) -> float:
    """CPU the PostgreSQL backends of this database's connections named `application_name`
    have used so far (the server is local: /proc)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        return sum(process_cpu_seconds(pid) for (pid,) in cursor.fetchall())

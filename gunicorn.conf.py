"""gunicorn's settings, shared by `make serve` and the HTTP benchmarks (bench/served.py),
so the benchmark measures what production runs. Sized from the environment:
WEB_WORKERS processes × WEB_THREADS threads (README, "Production serving")."""

import os

workers = int(os.environ.get("WEB_WORKERS") or 2)
threads = int(os.environ.get("WEB_THREADS") or 4)
# gthread keeps connections alive between requests; sync (one request at a time per
# process) closes each one.
worker_class = "gthread" if threads > 1 else "sync"
timeout = 60
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200

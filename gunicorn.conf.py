"""gunicorn's settings, shared by `make serve` and the HTTP benchmarks (bench/served.py),
so the benchmark measures what production runs. Sized from the environment:
WEB_WORKERS processes × WEB_THREADS threads (README, "Production serving")."""

import os

workers = int(os.environ.get("WEB_WORKERS") or 2)
threads = int(os.environ.get("WEB_THREADS") or 4)
# gthread keeps connections alive between requests; sync (one request at a time per
# process) closes each one. FreeThreadWorker is gthread taking a new connection only
# while a thread is free, so keep-alive connections spread over the processes instead
# of piling onto whichever accepted first (moderation/gunicorn_worker.py).
worker_class = "moderation.gunicorn_worker.FreeThreadWorker" if threads > 1 else "sync"
timeout = 60
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200

# A 1,000-signal batch allocates hundreds of thousands of objects; with CPython's default
# thresholds the cyclic collector runs a full pass (every object the app loaded, some
# 0.25 s) inside whichever request crosses the threshold. Once a worker has loaded the
# app, its objects are moved out of the collector's sight (gc.freeze) and young objects
# are collected less often: requests free most of what they allocate by reference
# counting, so this spaces the passes out and keeps them.
GC_THRESHOLDS = (50_000, 20, 100)


def post_worker_init(worker):
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

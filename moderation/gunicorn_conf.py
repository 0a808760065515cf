"""gunicorn settings loaded by `make serve` and the benchmarks (`--config python:moderation.gunicorn_conf`).

A 1,000-signal batch allocates hundreds of thousands of objects; with CPython's default
thresholds the cyclic collector runs a full pass (every object the app loaded, some
0.25 s) in the middle of whichever request crosses the threshold. Once a worker has
loaded the app, its objects are moved out of the collector's sight (`gc.freeze`) and
the young generation is collected less often: requests free most of what they allocate
by reference counting, so this only spaces the passes out, it keeps them.
"""

import gc

GC_THRESHOLDS = (50_000, 20, 100)


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

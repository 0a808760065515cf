"""Settings for the gunicorn processes a benchmark serves (bench/served.py).

The test settings on the benchmark's throwaway database, with what production has and
the suite turns off: jobs handed to RQ after commit, the audit sequencer on its own
schedule, the cache (rate limits, sessions) in Redis shared by every process.
"""

import os

from moderation import settings as production
from moderation.settings_test import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["BENCH_DATABASE_NAME"]  # noqa: F405
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
JOBS_RUN_INLINE = not REDIS_URL  # noqa: F405
AUDIT = {**AUDIT, "SEQUENCER_INLINE": None}  # noqa: F405
CACHES = production.CACHES
SESSION_ENGINE = production.SESSION_ENGINE
# Names the served processes' connections, so a benchmark can find their backends.
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = "bench-served"  # noqa: F405

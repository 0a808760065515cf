"""Settings for a real `rqworker` process started by the end-to-end tests.

It works on the test database of the pytest process that started it (its name comes
from the environment) and writes every email to a folder that test reads back.
"""

import os

from moderation.settings_test import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["E2E_DATABASE_NAME"]  # noqa: F405
DATABASES["default"]["TEST"] = {"NAME": os.environ["E2E_DATABASE_NAME"]}  # noqa: F405
JOBS_RUN_INLINE = False
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["E2E_MAIL_DIR"]

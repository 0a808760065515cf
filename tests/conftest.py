import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what services defer to after commit (jobs, emails) as a real commit would."""

    def runner():
        return django_capture_on_commit_callbacks(execute=True)

    return runner

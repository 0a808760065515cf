"""The follower purge benchmark (issue 16's "100,000 follow edges restored" target),
scaled down so CI notices when a rule of the back-office (the human gate, say) stops it
from running at all."""

import pytest

from bench.bench_purge import purge_and_restore

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_purge_benchmark_purges_and_restores_every_edge():
    lines = list(purge_and_restore(0.01))
    assert any(line.startswith("purge: 1,000 edges") for line in lines), lines
    assert any(line.startswith("restore: 1,000 edges") for line in lines), lines

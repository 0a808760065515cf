"""The benchmarks against raw PostgreSQL (bench/against_raw.py), scaled down for CI:
concurrent ingest and concurrent claims must stay error-free and within the CI floors
(RATIO_FLOORS) of what raw PostgreSQL does in the same run. The full run and the
targets of issue 16 are in bench/RESULTS.md (python -m bench ingest_vs_raw claim_vs_raw …)."""

import pytest
from django.db import connection

from bench import against_raw

SCALE = 0.04


@pytest.mark.django_db(transaction=True)
def test_scaled_down_ingest_and_claims_keep_their_ratios_to_raw_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the comparison is against raw PostgreSQL")
    with against_raw.jobs_to_redis():
        figures = {"ingest": against_raw.measure_ingest(SCALE), "claim": against_raw.measure_claims(SCALE)}

    assert against_raw.broken_ratios(figures) == [], figures
    assert figures["ingest"]["stored"] == figures["ingest"]["unique_signals"]
    assert figures["claim"]["raw_double_claims"] == 0

"""The benchmark data generator, at a size CI affords: the platform it loads is whole
(every row valid under the models' constraints, counts as asked, the audit chain intact)
and usable by the reviewer's tools (claims, near-duplicates)."""

import pytest
from django.core.management import CommandError, call_command

from bench.datagen import COPY_EVERY, generate, sizes_for
from cases.evidence.similarity import near_duplicates
from cases.models import Case, CaseStatus, Signal, StoryBand, StorySignature
from moderation.audit import verify_chain
from moderation.models import Account, AuditEvent, Follow, Story

pytestmark = pytest.mark.django_db

SCALE = 0.0005


def test_the_generator_loads_every_table_at_the_asked_size():
    sizes = sizes_for(SCALE)
    data = generate(scale=SCALE)

    assert Account.objects.filter(platform_id__startswith="gen-a").count() == sizes["accounts"]
    assert Story.objects.filter(platform_id__startswith="gen-s").count() == sizes["stories"]
    assert Follow.objects.count() == sizes["follows"]
    assert Case.objects.count() == sizes["cases"]
    assert Signal.objects.filter(idempotency_key__startswith="gen-sig-").count() == sizes["signals"]
    assert AuditEvent.objects.count() >= sizes["audit_events"]
    # The near-duplicate index was built as the stories arrived.
    assert StorySignature.objects.count() == sizes["stories"]
    assert StoryBand.objects.count() > sizes["stories"]
    # Counters agree with the rows they count.
    popular = Account.objects.order_by("-follower_count").first()
    assert popular.follower_count == Follow.objects.filter(followee=popular, is_active=True).count() > 1
    busiest = Case.objects.order_by("-signal_count").first()
    assert busiest.signal_count == busiest.signals.count() > 1
    assert Case.objects.filter(status=CaseStatus.OPEN).count() > sizes["cases"] // 2
    # The audit events went through the real append path: the chain verifies.
    report = verify_chain()
    assert report.ok, report.summary()
    assert report.checked >= sizes["audit_events"]
    # One story in fifty is an edited copy of an earlier one, and the index finds it.
    copy = Story.objects.get(pk=data.story_ids[COPY_EVERY - 1 + COPY_EVERY])
    assert near_duplicates(copy), "an edited copy is found by the near-duplicate lookup"


def test_a_second_load_with_the_same_prefix_is_refused_clearly():
    call_command("generate_platform_data", scale=SCALE, prefix="twice")
    with pytest.raises(CommandError, match="already loaded"):
        call_command("generate_platform_data", scale=SCALE, prefix="twice")


def test_an_unsigned_load_skips_only_the_near_duplicate_index():
    call_command("generate_platform_data", scale=SCALE, prefix="plain", no_signatures=True)

    assert Story.objects.filter(platform_id__startswith="plain-s").count() == sizes_for(SCALE)["stories"]
    assert not StorySignature.objects.exists()
    assert not StoryBand.objects.exists()
    assert Case.objects.count() == sizes_for(SCALE)["cases"]

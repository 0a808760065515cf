"""Signals in, cases out: storing signals idempotently, joining or opening cases,
snapshots, priority, staff evidence, reporter standing, routing and queue
administration, and API clients: one module per job.

Every public name is importable from here, so callers need not know the modules.
"""

from cases.services.intake.api_clients import create_api_client
from cases.services.intake.case_opening import open_or_join_case
from cases.services.intake.ingest import CHUNK_SIZE, ingest_signal, ingest_signals
from cases.services.intake.inputs import (
    DEFAULT_REPORT_POLICY,
    HUMAN_SOURCES,
    READER_FAMILY,
    READER_SOURCES,
    IngestResult,
    SignalIn,
)
from cases.services.intake.mirror import ACCOUNT_DATA_FIELDS, STORY_DATA_FIELDS
from cases.services.intake.priority import recompute_priority
from cases.services.intake.queues import save_queue, save_routing_rule
from cases.services.intake.reporters import mute_reporter, settle_reporters, unmute_reporter
from cases.services.intake.snapshots import content_hash, create_snapshot
from cases.services.intake.staff_evidence import (
    EVIDENCE_FILE_KINDS,
    add_evidence_file,
    add_staff_note,
    check_evidence_file,
)

__all__ = [
    "ACCOUNT_DATA_FIELDS",
    "CHUNK_SIZE",
    "DEFAULT_REPORT_POLICY",
    "EVIDENCE_FILE_KINDS",
    "HUMAN_SOURCES",
    "READER_FAMILY",
    "READER_SOURCES",
    "STORY_DATA_FIELDS",
    "IngestResult",
    "SignalIn",
    "add_evidence_file",
    "add_staff_note",
    "check_evidence_file",
    "content_hash",
    "create_api_client",
    "create_snapshot",
    "ingest_signal",
    "ingest_signals",
    "mute_reporter",
    "open_or_join_case",
    "recompute_priority",
    "save_queue",
    "save_routing_rule",
    "settle_reporters",
    "unmute_reporter",
]

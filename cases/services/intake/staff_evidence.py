"""Notes and files staff add to a case's timeline."""

from __future__ import annotations

import hashlib
import os

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from cases import permissions
from cases.models import Case, Evidence, EvidenceKind
from moderation.audit import record_event
from moderation.uploads import JPEG, PDF, PNG, TEXT, check_upload

EVIDENCE_FILE_KINDS = (PNG, JPEG, PDF, TEXT)


def add_staff_note(*, actor, case: Case, text: str) -> Evidence:
    """A note on the timeline; never edited afterwards, only followed by more notes."""
    if not permissions.can_add_evidence(actor, case):
        raise PermissionDenied("You may not add evidence to cases.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write the note first."})
    if len(text) > settings.MODERATION["REASON_MAX_CHARS"] * 5:
        raise ValidationError({"text": "Notes are limited to 10,000 characters; attach a file instead."})
    with transaction.atomic():
        evidence = Evidence(case=case, kind=EvidenceKind.NOTE, title="Staff note", body=text, added_by=actor)
        evidence.full_clean()
        evidence.save()
        record_event(actor=actor, verb="evidence.added", target=evidence, after={"kind": "note"}, case_ref=case.pk)
    return evidence


def check_evidence_file(upload) -> tuple[str, str]:
    """(extension, content type) of an acceptable upload, else a ValidationError."""
    try:
        kind = check_upload(upload, kinds=EVIDENCE_FILE_KINDS)
    except ValidationError as exc:
        allowed = ", ".join(ext for k in EVIDENCE_FILE_KINDS for ext in k.extensions)
        reason = " ".join(exc.messages)
        raise ValidationError({"file": f"File not accepted: {reason} Allowed: {allowed}, up to 5 MB."}) from None
    return os.path.splitext(upload.name)[1].lower(), kind.content_type


def add_evidence_file(*, actor, case: Case, upload, note: str = "") -> Evidence:
    """A file (screenshot, PDF, text export) on the timeline, type and size checked."""
    if not permissions.can_add_evidence(actor, case):
        raise PermissionDenied("You may not add evidence to cases.")
    ext, content_type = check_evidence_file(upload)
    upload.seek(0)
    content = upload.read()
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        evidence = Evidence(
            case=case,
            kind=EvidenceKind.FILE,
            title=f"File: {os.path.basename(upload.name)}"[:300],
            body=(note or "").strip(),
            content_hash=digest,
            data={"name": os.path.basename(upload.name), "content_type": content_type, "size": len(content)},
            added_by=actor,
        )
        evidence.file.save(f"case{case.pk}-{digest[:16]}{ext}", ContentFile(content), save=False)
        evidence.full_clean()
        evidence.save()
        record_event(
            actor=actor,
            verb="evidence.added",
            target=evidence,
            after={"kind": "file", "sha256": digest, "size": len(content)},
            case_ref=case.pk,
        )
    return evidence

"""Private files (appeal attachments, evidence): stored under random names in their
own storage, outside every public URL, and handed out only by views that have
checked the viewer's right to the case or appeal, always as downloads."""

from __future__ import annotations

import os
import uuid

from django.core.files.storage import storages
from django.http import FileResponse


def private_storage():
    """The `private` storage alias (settings.STORAGES): never served by a URL."""
    return storages["private"]


def _random_name(prefix: str, filename: str) -> str:
    ext = os.path.splitext(filename)[1].lower()[:10]
    return f"{prefix}/{uuid.uuid4().hex}{ext}"


def appeal_file_path(instance, filename: str) -> str:
    return _random_name("appeals", filename)


def evidence_file_path(instance, filename: str) -> str:
    return _random_name("evidence", filename)


def attachment_response(field_file, *, filename: str, content_type: str) -> FileResponse:
    """The file as a download the browser will neither sniff nor render in our origin."""
    response = FileResponse(field_file.open("rb"), as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response

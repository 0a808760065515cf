"""What a writer may attach to an appeal: PNG, JPEG or PDF up to 5 MB each, checked by
content (moderation.uploads)."""

from __future__ import annotations

from moderation.uploads import JPEG, MAX_UPLOAD_BYTES, PDF, PNG, check_upload

MAX_FILE_BYTES = MAX_UPLOAD_BYTES
MAX_FILES = 3
APPEAL_FILE_KINDS = (PNG, JPEG, PDF)


def sniff_content_type(uploaded) -> str:
    """Check one upload by size, extension and content; return its real content type."""
    return check_upload(uploaded, kinds=APPEAL_FILE_KINDS, max_bytes=MAX_FILE_BYTES).content_type

"""What a writer may attach to an appeal: PNG, JPEG or PDF up to 5 MB each, recognised
by their first bytes (a renamed .exe is refused even when it is called proof.png)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES = 3


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extensions: tuple[str, ...]
    magic: tuple[bytes, ...]


ALLOWED_KINDS = (
    FileKind("image/png", (".png",), (b"\x89PNG\r\n\x1a\n",)),
    FileKind("image/jpeg", (".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    FileKind("application/pdf", (".pdf",), (b"%PDF-",)),
)


def sniff_content_type(uploaded) -> str:
    """Check one upload by size, extension and content; return its real content type."""
    name = (uploaded.name or "").lower()
    if uploaded.size == 0:
        raise ValidationError(f"{uploaded.name} is empty.")
    if uploaded.size > MAX_FILE_BYTES:
        raise ValidationError(f"{uploaded.name} is larger than 5 MB.")
    uploaded.seek(0)
    head = uploaded.read(16)
    uploaded.seek(0)
    for kind in ALLOWED_KINDS:
        if any(head.startswith(magic) for magic in kind.magic):
            if not name.endswith(kind.extensions):
                raise ValidationError(f"{uploaded.name}: its content does not match its name.")
            return kind.content_type
    raise ValidationError(f"{uploaded.name} is not a PNG, JPEG or PDF file.")

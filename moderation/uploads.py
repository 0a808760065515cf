"""Files staff and writers attach are accepted by what they contain, not by what they
are called: the extension picks the kind, the first bytes must agree (a renamed .exe
is refused even when it is called proof.png)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
_HEAD_BYTES = 2048


@dataclass(frozen=True)
class FileKind:
    label: str
    content_type: str
    extensions: tuple[str, ...]
    matches: Callable[[bytes], bool]


PNG = FileKind("PNG", "image/png", (".png",), lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"))
JPEG = FileKind("JPEG", "image/jpeg", (".jpg", ".jpeg"), lambda head: head.startswith(b"\xff\xd8\xff"))
PDF = FileKind("PDF", "application/pdf", (".pdf",), lambda head: head.startswith(b"%PDF-"))
TEXT = FileKind("plain text", "text/plain", (".txt",), lambda head: b"\x00" not in head)


def _labels(kinds: Sequence[FileKind]) -> str:
    labels = [kind.label for kind in kinds]
    if len(labels) == 1:
        return labels[0]
    return _("%(first)s or %(last)s") % {"first": ", ".join(labels[:-1]), "last": labels[-1]}


def check_upload(upload, *, kinds: Sequence[FileKind], max_bytes: int = MAX_UPLOAD_BYTES) -> FileKind:
    """Size, extension and content of one upload; the kind it is, or a ValidationError
    a person can act on."""
    name = upload.name or _("The file")
    if upload.size == 0:
        raise ValidationError(_("%(name)s is empty.") % {"name": name})
    if upload.size > max_bytes:
        raise ValidationError(
            _("%(name)s is larger than %(size)s MB.") % {"name": name, "size": max_bytes // (1024 * 1024)}
        )
    upload.seek(0)
    head = upload.read(_HEAD_BYTES)
    upload.seek(0)
    kind = next((k for k in kinds if name.lower().endswith(k.extensions)), None)
    if kind is None:
        raise ValidationError(_("%(name)s is not a %(kinds)s file.") % {"name": name, "kinds": _labels(kinds)})
    if kind.matches(head):
        return kind
    if any(other.matches(head) for other in kinds if other is not kind and other is not TEXT):
        raise ValidationError(_("%(name)s: its content does not match its name.") % {"name": name})
    raise ValidationError(_("%(name)s is not a %(kinds)s file.") % {"name": name, "kinds": _labels(kinds)})

"""Signed heads of the audit log, and the sink outside the database they go to.

A head says "the chain had `size` entries, the last one hashing to `root`, at `time`",
signed with Ed25519. The private key never enters the database (AUDIT_SIGNING_KEY or
AUDIT_SIGNING_KEY_FILE), so whoever owns the database can rewrite rows but not the heads
already published: `moderation.audit.verify_chain` holds every head against the table.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

HEAD_CONTEXT = "moderation-audit-head/v1"


class SigningKeyMissing(ImproperlyConfigured):
    pass


@dataclass(frozen=True)
class Head:
    size: int
    root: str
    time: str
    key: str
    sig: str

    def message(self) -> bytes:
        return f"{HEAD_CONTEXT}\n{self.size}\n{self.root}\n{self.time}".encode()

    def to_line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> Head:
        """A line that does not parse becomes a head no key verifies, so it is reported."""
        try:
            data = json.loads(line)
            return cls(int(data["size"]), str(data["root"]), str(data["time"]), str(data["key"]), str(data["sig"]))
        except (ValueError, KeyError, TypeError):
            return cls(0, "", f"(unreadable line {line[:40]!r})", "", "")


# --- keys ----------------------------------------------------------------------------------


def _key_from_text(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyMissing("The audit signing key must be an Ed25519 key.")
        return key
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))


def _generate_key_file(path: Path) -> None:
    """Dev and test only: a fresh key, written so that two processes racing agree on one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        os.link(scratch, path)
    except FileExistsError:
        pass
    finally:
        scratch.unlink()


@lru_cache(maxsize=4)
def _load_key(text: str, file: str, generate: bool) -> Ed25519PrivateKey:
    if text:
        return _key_from_text(text)
    if not file:
        raise SigningKeyMissing(
            "No audit signing key: set AUDIT_SIGNING_KEY (base64 of 32 bytes, or PEM) or AUDIT_SIGNING_KEY_FILE."
        )
    path = Path(file)
    if not path.exists() and generate:
        _generate_key_file(path)
    try:
        return _key_from_text(path.read_text())
    except OSError as exc:
        raise SigningKeyMissing(f"Cannot read the audit signing key file {path}: {exc}") from exc
    except ValueError as exc:
        raise SigningKeyMissing(f"The audit signing key in {path} is not an Ed25519 key: {exc}") from exc


def signing_key() -> Ed25519PrivateKey:
    audit = settings.AUDIT
    try:
        return _load_key(
            audit["SIGNING_KEY"], str(audit["SIGNING_KEY_FILE"] or ""), bool(audit["GENERATE_SIGNING_KEY"])
        )
    except ValueError as exc:
        raise SigningKeyMissing(f"AUDIT_SIGNING_KEY is not an Ed25519 key: {exc}") from exc


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_text(public: Ed25519PublicKey) -> str:
    return base64.b64encode(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


@lru_cache(maxsize=4)
def _public_keys(extra: tuple[str, ...]) -> dict[str, Ed25519PublicKey]:
    keys = {}
    for text in extra:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(text))
        keys[key_id(public)] = public
    return keys


def trusted_keys() -> dict[str, Ed25519PublicKey]:
    """The current key's public half, plus retired ones (AUDIT_TRUSTED_PUBLIC_KEYS) after a rotation."""
    public = signing_key().public_key()
    return {**_public_keys(tuple(settings.AUDIT["TRUSTED_PUBLIC_KEYS"])), key_id(public): public}


def sign_head(*, size: int, root: str, when: datetime) -> Head:
    key = signing_key()
    unsigned = Head(size, root, when.isoformat(), key_id(key.public_key()), "")
    signature = base64.b64encode(key.sign(unsigned.message())).decode()
    return Head(size, root, unsigned.time, unsigned.key, signature)


def verify_head(head: Head, keys: dict[str, Ed25519PublicKey] | None = None) -> bool:
    public = (keys or trusted_keys()).get(head.key)
    if public is None:
        return False
    try:
        public.verify(base64.b64decode(head.sig, validate=True), head.message())
    except (InvalidSignature, ValueError):
        return False
    return True


# --- sinks -----------------------------------------------------------------------------------


class FileHeadSink:
    """One JSON line per head, appended and fsynced (AUDIT_HEADS_PATH). Put it on storage
    the database's owners cannot write, or ship it on (log shipping, object lock)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path or settings.AUDIT["HEADS_PATH"])

    def append(self, head: Head) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(head.to_line() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def latest(self) -> Head | None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                end = handle.tell()
                handle.seek(max(0, end - 4096))
                lines = [line for line in handle.read().splitlines() if line.strip()]
        except FileNotFoundError:
            return None
        return Head.from_line(lines[-1].decode("utf-8", "replace")) if lines else None

    def snapshot(self) -> _FileHeads:
        """The heads written so far (and no later ones), read lazily."""
        try:
            end = self.path.stat().st_size
        except FileNotFoundError:
            end = 0
        return _FileHeads(self.path, end)

    def lines(self) -> Iterator[str]:
        for head in self.snapshot():
            yield head.to_line() + "\n"


class _FileHeads:
    def __init__(self, path: Path, end: int):
        self.path, self.end = path, end

    def __iter__(self) -> Iterator[Head]:
        if not self.end:
            return
        with open(self.path, "rb") as handle:
            read = 0
            for raw in handle:
                read += len(raw)
                if read > self.end:
                    return
                if raw.strip():
                    yield Head.from_line(raw.decode("utf-8", "replace"))


class MemoryHeadSink:
    """Process-local sink for tests and benchmarks (the test suite empties it per test)."""

    _heads: list[str] = []
    _lock = threading.Lock()

    def append(self, head: Head) -> None:
        with self._lock:
            self._heads.append(head.to_line())

    def latest(self) -> Head | None:
        with self._lock:
            return Head.from_line(self._heads[-1]) if self._heads else None

    def snapshot(self) -> list[Head]:
        with self._lock:
            return [Head.from_line(line) for line in self._heads]

    def lines(self) -> Iterator[str]:
        for head in self.snapshot():
            yield head.to_line() + "\n"

    @classmethod
    def clear(cls) -> None:
        with cls._lock:
            cls._heads.clear()


def head_sink():
    return import_string(settings.AUDIT["HEAD_SINK"])()

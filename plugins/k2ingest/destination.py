"""Where the files go: a local folder or an S3 bucket and prefix, parsed from the ``destination`` param."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from k2ingest.errors import InvalidInputError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9._\-=+]+$")


@dataclass(frozen=True)
class Destination:
    """A local root folder (``scheme == "file"``) or an S3 bucket with a key prefix."""

    scheme: str
    root: str  # the absolute folder, or the bucket name
    prefix: str = ""  # S3 only: no leading or trailing slash

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    def key(self, relative_key: str) -> str:
        """The path (local) or object key (S3) of a file stored under ``relative_key``."""
        if self.is_local:
            return str(Path(self.root, relative_key))
        return f"{self.prefix}/{relative_key}" if self.prefix else relative_key

    def uri(self, relative_key: str) -> str:
        if self.is_local:
            return Path(self.root, relative_key).as_uri()
        return f"s3://{self.root}/{self.key(relative_key)}"

    def __str__(self) -> str:
        return Path(self.root).as_uri() if self.is_local else f"s3://{self.root}/{self.prefix}".rstrip("/")


def parse_destination(text: str, field: str = "destination") -> Destination:
    """Read a local path, a ``file://`` URL or ``s3://bucket/prefix``; anything else is refused."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(field, "is empty; give a local path, a file:// URL or s3://bucket/prefix")
    text = text.strip()
    if "://" not in text:
        return _local(text, field)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "file":
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInputError(field, f"{text!r}: a file:// URL must name a local path (file:///path)")
        return _local(unquote(parsed.path), field)
    if scheme == "s3":
        return _s3(text, field)
    raise InvalidInputError(
        field, f"unknown scheme {scheme!r} in {text!r}; use a local path, a file:// URL or s3://bucket/prefix")


def _local(path_text: str, field: str) -> Destination:
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        raise InvalidInputError(field, f"{path_text!r} is a relative path; give an absolute path")
    if ".." in path.parts:
        raise InvalidInputError(field, f"{path_text!r} contains '..'; give the folder's plain absolute path")
    return Destination(scheme="file", root=str(path))


def _s3(text: str, field: str) -> Destination:
    parsed = urlparse(text)
    bucket = parsed.netloc
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise InvalidInputError(field, f"{bucket!r} in {text!r} is not a valid S3 bucket name")
    if parsed.query or parsed.fragment:
        raise InvalidInputError(field, f"{text!r}: an S3 destination takes no '?' or '#' part")
    parts = [p for p in PurePosixPath(parsed.path).parts if p != "/"]
    for part in parts:
        if part in (".", "..") or not _PREFIX_PART.match(part):
            raise InvalidInputError(field, f"{text!r}: prefix part {part!r} is not allowed")
    return Destination(scheme="s3", root=bucket, prefix="/".join(parts))

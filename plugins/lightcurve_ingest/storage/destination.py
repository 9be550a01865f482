"""Where the files go: a local folder or an S3 bucket and prefix, parsed from the ``destination`` param."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from lightcurve_ingest.errors import InvalidInputError

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_PREFIX_PART = re.compile(r"[A-Za-z0-9._\-=+]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_PATH_CHARS = 3800  # PATH_MAX is 4096 bytes; the files' own keys need ~90 more
MAX_NAME_BYTES = 255  # NAME_MAX: one folder name
MAX_PREFIX_CHARS = 900  # S3 keys are at most 1024 bytes; ours add ~90


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
    if _CONTROL.search(text):
        raise InvalidInputError(field, f"{text!r} contains a control character")
    if len(text) > MAX_PATH_CHARS:
        raise InvalidInputError(field, f"is {len(text)} characters long; at most {MAX_PATH_CHARS} are allowed")
    if "://" not in text:
        return _local(text, field)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "file":
        parsed = _urlparse(text, field)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInputError(field, f"{text!r}: a file:// URL must name a local path (file:///path)")
        return _local(unquote(parsed.path), field)
    if scheme == "s3":
        return _s3(text, field)
    raise InvalidInputError(
        field, f"unknown scheme {scheme!r} in {text!r}; use a local path, a file:// URL or s3://bucket/prefix")


def _urlparse(text: str, field: str):  # noqa: ANN202 (urllib's ParseResult)
    try:
        return urlparse(text)
    except ValueError as err:  # e.g. "Invalid IPv6 URL" for s3://[bucket
        raise InvalidInputError(field, f"{text!r} is not a valid URL ({err})") from None


def _local(path_text: str, field: str) -> Destination:
    if _CONTROL.search(path_text):  # a file:// URL's %00 or %0A, once unquoted
        raise InvalidInputError(field, f"{path_text!r} contains a control character")
    try:
        path = Path(path_text).expanduser()
    except RuntimeError:  # ~someone whose home folder is unknown
        raise InvalidInputError(field, f"{path_text!r}: cannot expand '~' (unknown user)") from None
    if not path.is_absolute():
        raise InvalidInputError(field, f"{path_text!r} is a relative path; give an absolute path")
    if ".." in path.parts:
        raise InvalidInputError(field, f"{path_text!r} contains '..'; give the folder's plain absolute path")
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in path.parts):
        raise InvalidInputError(field, f"{path_text[:80]!r}...: a folder name is longer than {MAX_NAME_BYTES} bytes")
    return Destination(scheme="file", root=str(path))


def _s3(text: str, field: str) -> Destination:
    parsed = _urlparse(text, field)
    bucket = parsed.netloc
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InvalidInputError(field, f"{bucket!r} in {text!r} is not a valid S3 bucket name")
    if parsed.query or parsed.fragment:
        raise InvalidInputError(field, f"{text!r}: an S3 destination takes no '?' or '#' part")
    parts = [p for p in PurePosixPath(parsed.path).parts if p != "/"]
    for part in parts:
        if part in (".", "..") or not _PREFIX_PART.fullmatch(part):
            raise InvalidInputError(field, f"{text!r}: prefix part {part!r} is not allowed")
    prefix = "/".join(parts)
    if len(prefix) > MAX_PREFIX_CHARS:
        raise InvalidInputError(field, f"the key prefix is {len(prefix)} characters long; at most "
                                       f"{MAX_PREFIX_CHARS} are allowed")
    return Destination(scheme="s3", root=bucket, prefix=prefix)

"""The destination behind one interface: a local folder or an S3 bucket and prefix.

Both give: the size of an object (None when absent), an atomic put (a file shows under its final name only
whole), a local path to read an object from, delete, and a compare-and-swap write (the catalog's commits).
S3 also copies server-side from the public bucket when one endpoint serves both. Keys are relative to the
destination and checked here, so nothing can be read or written outside it.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import logging
import os
import re
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lightcurve_ingest.errors import DiskFullError, InvalidInputError
from lightcurve_ingest.settings import S3_TRANSFER_CONCURRENCY, S3_TRANSFER_IO_QUEUE
from lightcurve_ingest.storage.destination import Destination
from lightcurve_ingest.storage.source_bucket import SourceBucket

log = logging.getLogger(__name__)

T = TypeVar("T")
_KEY = re.compile(r"[A-Za-z0-9_.\-=+]+(?:/[A-Za-z0-9_.\-=+]+)*")
CONFLICT_CODES = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
ACCESS_DENIED_CODES = ("AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch")


@dataclass(frozen=True)
class Versioned:
    """An object's bytes (None when absent) and the version a compare-and-swap write must match."""

    data: bytes | None
    version: str | None


@dataclass(frozen=True)
class CopyReceipt:
    """What S3 says of a server-side copy."""

    etag: str  # without quotes
    sha256: str  # hex; "" when the server computes none
    encryption: str


class ServerSideCopyRefusedError(Exception):
    """The destination's credentials may not read the public bucket: copies must go through the worker."""


def error_code(err: Exception) -> str:
    """The S3 error code of a botocore ClientError ("" for anything else)."""
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def check_key(key: str) -> str:
    """A relative key made of safe parts only: no absolute path, no ``.`` or ``..`` part, no odd character."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or any(p in (".", "..") for p in key.split("/")):
        raise InvalidInputError("key", f"{key!r} is not a safe relative key")
    return key


class Storage(ABC):
    """A destination's objects, by key relative to it."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination

    @property
    def is_local(self) -> bool:
        return self.destination.is_local

    def uri(self, key: str) -> str:
        return self.destination.uri(check_key(key))

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None if there is none."""

    @abstractmethod
    def put(self, key: str, write: Callable[[Path], T], content_type: str | None = None) -> T:
        """``write`` fills a local file (and may check it, raising to abort); the file then appears under ``key``
        whole, replacing what was there. Returns what ``write`` returned. ``content_type``: S3's Content-Type
        (a page or picture served from the bucket must have one a browser shows)."""

    @abstractmethod
    def fetched(self, key: str) -> Any:
        """A context manager giving a local path that holds the object's bytes."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (nothing happens if there is none)."""

    @abstractmethod
    def keys(self, prefix: str) -> set[str]:
        """The keys of every whole object below the folder ``prefix`` (partial files are not listed)."""

    @abstractmethod
    def sizes(self, prefix: str) -> dict[str, int]:
        """The size of every whole object below the folder ``prefix`` (one listing, not a HEAD a key)."""

    @abstractmethod
    def read_versioned(self, key: str) -> Versioned:
        """The object's bytes and version (both None when absent)."""

    @abstractmethod
    def write_if_unchanged(self, key: str, data: bytes, version: str | None) -> bool:
        """Write ``data`` only if the object is still at ``version`` (None: still absent); False if it changed."""

    def can_copy_from(self, source: SourceBucket) -> bool:
        """Whether objects of ``source`` can be copied here server-side (no byte through the worker)."""
        return False

    def copy_from(self, source: SourceBucket, source_key: str, key: str, source_etag: str | None = None
                  ) -> CopyReceipt:
        """Copy ``source_key`` of the public bucket to ``key`` server-side, where ``can_copy_from`` says so.
        Raises ServerSideCopyRefusedError when the destination's credentials may not read the source."""
        raise NotImplementedError(f"{type(self).__name__} cannot copy from {source.bucket} server-side")

    def copy_within(self, from_key: str, to_key: str) -> None:
        """Copy one object of this destination to another key, server-side."""
        raise NotImplementedError(f"{type(self).__name__} has no server-side copy")

    @abstractmethod
    def table_uri(self, key: str) -> str:
        """Where a table library (deltalake, pyarrow) finds the folder ``key``: a local path or ``s3://...``."""

    def table_options(self) -> dict[str, str]:
        """The deltalake ``storage_options`` that reach this destination (none for a local folder)."""
        return {}

    def staging_key(self, key: str) -> str:
        """A hidden key beside ``key`` for an object not yet verified: ``<folder>/.<name>.part-<id>``."""
        folder, _, name = check_key(key).rpartition("/")
        return (f"{folder}/" if folder else "") + f".{name}.part-{uuid.uuid4().hex[:12]}"


class LocalStorage(Storage):
    """A local folder. Partial files are hidden (``.<name>.part-<id>``), locked while written, and renamed whole."""

    def __init__(self, destination: Destination) -> None:
        super().__init__(destination)
        self.root = Path(destination.root).resolve()

    def path(self, key: str) -> Path:
        """The file of ``key``; symbolic links that would lead outside the destination are refused."""
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidInputError("key", f"{key!r} would land outside the destination {self.root}")
        return path

    def size(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def put(self, key: str, write: Callable[[Path], T], content_type: str | None = None) -> T:
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(final)
        partial = final.with_name(f".{final.name}.part-{uuid.uuid4().hex[:12]}")
        try:
            with open(partial, "xb") as claim:
                fcntl.flock(claim, fcntl.LOCK_EX)  # held while this write runs: the partial is not stale
                try:
                    result = write(partial)
                    os.replace(partial, final)
                    _fsync_dir(final.parent)
                finally:
                    partial.unlink(missing_ok=True)
        except OSError as err:
            if err.errno in DISK_FULL_ERRNOS:
                raise DiskFullError(str(self.root), key, err) from err
            raise
        return result

    @contextmanager
    def fetched(self, key: str) -> Iterator[Path]:
        yield self.path(key)

    def table_uri(self, key: str) -> str:
        return str(self.path(key))

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def sizes(self, prefix: str) -> dict[str, int]:
        folder = self.path(prefix)
        return {p.relative_to(self.root).as_posix(): p.stat().st_size for p in folder.rglob("*")
                if p.is_file() and not p.name.startswith(".")} if folder.is_dir() else {}

    def keys(self, prefix: str) -> set[str]:
        folder = self.path(prefix)
        return {p.relative_to(self.root).as_posix() for p in folder.rglob("*")
                if p.is_file() and not p.name.startswith(".")} if folder.is_dir() else set()

    def read_versioned(self, key: str) -> Versioned:
        path = self.path(key)
        if not path.is_file():
            return Versioned(None, None)
        data = path.read_bytes()
        return Versioned(data, hashlib.sha256(data).hexdigest())

    def write_if_unchanged(self, key: str, data: bytes, version: str | None) -> bool:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # writers of this folder take turns; the check and the write are one
            if self.read_versioned(key).version != version:
                return False
            self.put(key, lambda partial: _write_synced(partial, data))
        return True


class S3Storage(Storage):
    """An S3 bucket and prefix, through an S3Hook (the ``dest_aws_conn_id`` connection). Objects appear whole."""

    def __init__(self, destination: Destination, hook: Any) -> None:
        super().__init__(destination)
        self.hook = hook
        self.client = hook.get_conn()
        self.bucket = destination.root

    def _key(self, key: str) -> str:
        return self.destination.key(check_key(key))

    def _transfer_config(self) -> Any:
        """The hook's TransferConfig (it holds the connection's own transfer_config_args), bounded: at most
        S3_TRANSFER_CONCURRENCY parts in flight and S3_TRANSFER_IO_QUEUE downloaded chunks waiting to be
        written. boto3's defaults (10 parts, 100 chunks) hold several times this memory for a large download
        (benchmarks/README.md, "Memory"). Objects under 8 MB, such as light curves, are one request either way."""
        config = self.hook.transfer_config
        config.max_concurrency = min(config.max_concurrency, S3_TRANSFER_CONCURRENCY)
        config.max_io_queue = min(config.max_io_queue, S3_TRANSFER_IO_QUEUE)
        return config

    def size(self, key: str) -> int | None:
        head = self.hook.head_object(key=self._key(key), bucket_name=self.bucket)
        return int(head["ContentLength"]) if head else None

    def put(self, key: str, write: Callable[[Path], T], content_type: str | None = None) -> T:
        target = self._key(key)
        with tempfile.TemporaryDirectory(prefix="lightcurve-ingest-") as scratch:
            local = Path(scratch) / target.rsplit("/", 1)[-1]
            result = write(local)
            config = self._transfer_config()  # load_file uses the hook's TransferConfig: bound it first
            if content_type:
                # as load_file does, with the connection's own extra_args (encryption, ...) kept
                self.client.upload_file(str(local), self.bucket, target, Config=config,
                                        ExtraArgs={**self.hook.extra_args, "ContentType": content_type})
                return result
            # No acl_policy: load_file would send "no-acl" as a canned ACL, which S3 rejects (copy_object alone
            # treats "no-acl" as "send none"); the bucket's default applies, as for server-side copies.
            self.hook.load_file(str(local), key=target, bucket_name=self.bucket, replace=True)
        return result

    @contextmanager
    def fetched(self, key: str) -> Iterator[Path]:
        target = self._key(key)
        with tempfile.TemporaryDirectory(prefix="lightcurve-ingest-") as scratch:
            local = Path(scratch) / target.rsplit("/", 1)[-1]
            self.client.download_file(self.bucket, target, str(local), Config=self._transfer_config())
            yield local

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str) -> set[str]:
        return set(self.sizes(prefix))

    def sizes(self, prefix: str) -> dict[str, int]:
        below = self._key(prefix).rstrip("/") + "/"
        strip = len(self._key("x")) - 1  # the destination's own prefix
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=below):
            found.update((item["Key"][strip:], int(item["Size"])) for item in page.get("Contents", []))
        return found

    def read_versioned(self, key: str) -> Versioned:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as err:
            if error_code(err) in ("NoSuchKey", "404"):
                return Versioned(None, None)
            raise
        return Versioned(response["Body"].read(), response["ETag"])

    def write_if_unchanged(self, key: str, data: bytes, version: str | None) -> bool:
        """S3 conditional writes: ``If-Match`` the ETag read, or ``If-None-Match: *`` while absent."""
        condition = {"IfMatch": version} if version else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **condition)
        except Exception as err:
            if error_code(err) in CONFLICT_CODES:
                return False
            raise
        return True

    def can_copy_from(self, source: SourceBucket) -> bool:
        return self.hook.conn_config.endpoint_url == source.endpoint

    def table_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def table_options(self) -> dict[str, str]:
        """The connection's credentials, region and endpoint, as delta-rs names them. delta-rs commits to S3 with
        conditional writes (put-if-absent of the log entry), so no locking service is needed."""
        credentials = self.hook.get_credentials()
        options = {"AWS_ACCESS_KEY_ID": credentials.access_key, "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
                   "AWS_REGION": self.client.meta.region_name or "us-east-1"}
        if credentials.token:
            options["AWS_SESSION_TOKEN"] = credentials.token
        endpoint = self.hook.conn_config.endpoint_url
        if endpoint:
            options["AWS_ENDPOINT_URL"] = endpoint
            options["AWS_ALLOW_HTTP"] = str(endpoint.startswith("http://")).lower()
        return options

    def copy_from(self, source: SourceBucket, source_key: str, key: str, source_etag: str | None = None
                  ) -> CopyReceipt:
        """One ``CopyObject`` from the public bucket; S3 computes the copy's SHA-256. With ``source_etag`` the copy
        is pinned to that version of the source (``CopySourceIfMatch``)."""
        pinned = {"CopySourceIfMatch": f'"{source_etag}"'} if source_etag else {}
        try:
            response = self.hook.copy_object(source_bucket_key=source_key, dest_bucket_key=self._key(key),
                                             source_bucket_name=source.bucket, dest_bucket_name=self.bucket,
                                             acl_policy="no-acl", ChecksumAlgorithm="SHA256", **pinned)
        except Exception as err:
            if error_code(err) in ACCESS_DENIED_CODES:
                raise ServerSideCopyRefusedError(str(err)) from err
            raise
        result = response.get("CopyObjectResult", {})
        return CopyReceipt(etag=result.get("ETag", "").strip('"'), sha256=_hex(result.get("ChecksumSHA256", "")),
                           encryption=response.get("ServerSideEncryption", ""))

    def copy_within(self, from_key: str, to_key: str) -> None:
        self.hook.copy_object(source_bucket_key=self._key(from_key), dest_bucket_key=self._key(to_key),
                              source_bucket_name=self.bucket, dest_bucket_name=self.bucket, acl_policy="no-acl")


def open_storage(destination: Destination, hook: Any = None) -> Storage:
    """The storage of a destination; an S3 destination needs its S3Hook."""
    if destination.is_local:
        return LocalStorage(destination)
    if hook is None:
        raise ValueError("an S3 destination needs its S3Hook")
    return S3Storage(destination, hook)


def _remove_stale_partials(final: Path) -> None:
    """Delete partial files of ``final`` that no running write holds locked (left by a killed worker)."""
    prefix = f".{final.name}.part-"
    with os.scandir(final.parent) as entries:  # not Path.glob: it compiles a pattern for each name
        partials = [final.parent / e.name for e in entries if e.name.startswith(prefix)]
    for stale in partials:
        try:
            with open(stale, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                stale.unlink(missing_ok=True)
                log.info("Removed %s, left by a write that was killed", stale.name)
        except (BlockingIOError, FileNotFoundError):
            continue


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hex(b64: str) -> str:
    return base64.b64decode(b64).hex() if b64 else ""

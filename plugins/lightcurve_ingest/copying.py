"""Copy LLC files from the public bucket to the destination: verified, atomic, never twice.

Local: stream into a hidden ``.part`` file beside the final name, verify, then rename.
S3, when the destination's endpoint can read the source: one server-side copy to the final key, checked by
S3 (no byte through the worker); or, with ``read_back``, a server-side copy to a hidden staging key, read back
to check its FITS sums, then copied to its final key. Otherwise: stream through a verified local temporary
file and upload it with boto3's transfer manager. S3 objects appear whole.
"""

from __future__ import annotations

import base64
import fcntl
import glob
import logging
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k2ingest.destination import Destination
from k2ingest.errors import InvalidInputError
from k2ingest.keys import validate_source_key
from k2ingest.mast import LightCurveFile
from k2ingest.settings import S3_TRANSFER_CONCURRENCY, S3_TRANSFER_IO_QUEUE, SOURCE_BUCKET
from k2ingest.verify import CHUNK, VerificationError, Verified, check_size, verify_file

log = logging.getLogger(__name__)

COPIED, PRESENT, ADOPTED, FAILED = "copied", "present", "adopted", "failed"
ATTEMPTS = 3


@dataclass
class CopyResult:
    """What happened to one file; ``copied`` and ``adopted`` files go into the catalog."""

    file: LightCurveFile
    status: str
    destination_uri: str
    size: int = 0
    sha256: str = ""
    fits_checksum: bool = False
    method: str = ""
    bytes_through_worker: int = 0
    error: str = ""


@dataclass(frozen=True)
class SourceObject:
    """What a HEAD of a source object says: its length and its ETag (without quotes)."""

    length: int
    etag: str


class SourceBucket:
    """Reads objects of the public bucket through an S3Hook's client."""

    def __init__(self, hook: Any, bucket: str = SOURCE_BUCKET) -> None:
        self.hook = hook
        self.client = hook.get_conn()
        self.bucket = bucket
        self.endpoint = hook.conn_config.endpoint_url

    def head(self, key: str) -> SourceObject:
        head = self.client.head_object(Bucket=self.bucket, Key=key)
        return SourceObject(length=int(head["ContentLength"]), etag=head.get("ETag", "").strip('"'))

    def download(self, key: str, target: Path) -> int:
        """Stream one object into ``target``; returns the object's listed length."""
        response = self.client.get_object(Bucket=self.bucket, Key=key)
        length = int(response["ContentLength"])
        body = response["Body"]
        with open(target, "wb") as handle:
            for chunk in body.iter_chunks(CHUNK):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return length


def _with_retries(action: Callable[[], CopyResult], what: str) -> CopyResult:
    """Run ``action``; retry transient faults with capped exponential backoff and jitter."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return action()
        except InvalidInputError:
            raise
        except Exception as err:  # S3 faults, resets and failed verifications are all retried
            if attempt == ATTEMPTS:
                raise
            delay = min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())
            log.warning("%s failed (attempt %d of %d), retrying in %.1fs: %s", what, attempt, ATTEMPTS, delay, err)
            time.sleep(delay)
    raise AssertionError("unreachable")


class LocalWriter:
    """Copies into a local folder; a file shows under its final name only once complete and verified."""

    def __init__(self, destination: Destination, source: SourceBucket) -> None:
        self.destination = destination
        self.source = source
        self.root = Path(destination.root).resolve()

    def final_path(self, key: str) -> Path:
        path = (self.root / validate_source_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidInputError("key", f"{key!r} would land outside the destination {self.root}")
        return path

    def existing_size(self, key: str) -> int | None:
        path = self.final_path(key)
        return path.stat().st_size if path.is_file() else None

    def copy(self, file: LightCurveFile) -> CopyResult:
        final = self.final_path(file.source_key)
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(final)
        partial = final.with_name(f".{final.name}.part-{uuid.uuid4().hex[:12]}")
        with open(partial, "xb") as claim:
            fcntl.flock(claim, fcntl.LOCK_EX)  # held while this copy runs: the partial is not stale
            try:
                length = self.source.download(file.source_key, partial)
                verified = verify_file(partial, {"MAST's size": file.mast_size, "the source's length": length})
                os.replace(partial, final)
                _fsync_dir(final.parent)
            finally:
                partial.unlink(missing_ok=True)
        return _result(file, COPIED, self.destination, verified, "download", verified.size)

    def adopt(self, file: LightCurveFile) -> CopyResult:
        """Verify a file already at its final name that the catalog does not know; remove it if bad."""
        final = self.final_path(file.source_key)
        try:
            verified = verify_file(final, {"MAST's size": file.mast_size})
        except VerificationError:
            final.unlink(missing_ok=True)
            raise
        return _result(file, ADOPTED, self.destination, verified, "adopted", 0)


class S3Writer:
    """Copies into an S3 bucket under a prefix, server-side when the destination can read the source."""

    def __init__(self, destination: Destination, source: SourceBucket, dest_hook: Any, read_back: bool = False) -> None:
        self.destination = destination
        self.source = source
        self.hook = dest_hook
        self.client = dest_hook.get_conn()
        self.server_side = dest_hook.conn_config.endpoint_url == source.endpoint
        self.read_back = read_back

    def _transfer_config(self) -> Any:
        """The hook's TransferConfig (it holds the connection's own transfer_config_args), bounded: at most
        S3_TRANSFER_CONCURRENCY parts in flight and S3_TRANSFER_IO_QUEUE downloaded chunks waiting to be
        written. boto3's defaults (10 parts, 100 chunks) take 66 MB more for a 500 MB download; these, 12 MB
        (benchmarks/README.md). Objects under 8 MB, such as LLC files, are one request either way."""
        config = self.hook.transfer_config
        config.max_concurrency = min(config.max_concurrency, S3_TRANSFER_CONCURRENCY)
        config.max_io_queue = min(config.max_io_queue, S3_TRANSFER_IO_QUEUE)
        return config

    def existing_size(self, key: str) -> int | None:
        head = self.hook.head_object(key=self.destination.key(validate_source_key(key)),
                                     bucket_name=self.destination.root)
        return int(head["ContentLength"]) if head else None

    def copy(self, file: LightCurveFile) -> CopyResult:
        if self.server_side:
            try:
                return self._copy_read_back(file) if self.read_back else self._copy_server_side(file)
            except Exception as err:
                if not _is_access_denied(err):
                    raise
                log.info("Server-side copy refused (%s); streaming through the worker from now on", err)
                self.server_side = False
        return self._copy_streamed(file)

    def _copy_server_side(self, file: LightCurveFile) -> CopyResult:
        """One ``CopyObject`` straight to the final key; no byte goes through the worker.

        The source's length is checked against MAST's size before anything is written, the copy is pinned
        to the object checked (``CopySourceIfMatch``), and S3 computes the copy's SHA-256 (recorded) and
        ETag (compared with the source's). The FITS sums are not read: ``read_back`` checks them too.
        """
        bucket, key = self.destination.root, self.destination.key(file.source_key)
        source = self.source.head(file.source_key)
        check_size(source.length, file.mast_size, f"{file.source_key}: the source's length against MAST's size")
        response = self.hook.copy_object(source_bucket_key=file.source_key, dest_bucket_key=key,
                                         source_bucket_name=self.source.bucket, dest_bucket_name=bucket,
                                         acl_policy="no-acl", ChecksumAlgorithm="SHA256",
                                         CopySourceIfMatch=f'"{source.etag}"')
        copied = response.get("CopyObjectResult", {})
        if not _same_content(source.etag, copied.get("ETag", ""), response.get("ServerSideEncryption", "")):
            self.client.delete_object(Bucket=bucket, Key=key)
            raise VerificationError(f"{file.source_key}: the copy's ETag {copied.get('ETag')} is not the "
                                    f"source's {source.etag}")
        checked = Verified(size=source.length, sha256=_hex_checksum(copied.get("ChecksumSHA256", "")),
                           fits_checksum=False)
        return _result(file, COPIED, self.destination, checked, "server-side", 0)

    def _copy_read_back(self, file: LightCurveFile) -> CopyResult:
        """Copy to a hidden staging key, read it back once to verify it, then copy it to its final key.

        No source byte goes through the worker, but every byte of the copy does, once: that is what lets
        the FITS sums be checked (a damaged source object is caught). Nothing unverified shows under the
        final key.
        """
        bucket, key = self.destination.root, self.destination.key(file.source_key)
        folder, _, name = key.rpartition("/")
        staging = (f"{folder}/" if folder else "") + f".{name}.part-{uuid.uuid4().hex[:12]}"
        try:
            self.hook.copy_object(source_bucket_key=file.source_key, dest_bucket_key=staging,
                                  source_bucket_name=self.source.bucket, dest_bucket_name=bucket,
                                  acl_policy="no-acl", ChecksumAlgorithm="SHA256")
            head = self.client.head_object(Bucket=bucket, Key=staging, ChecksumMode="ENABLED")
            with tempfile.TemporaryDirectory(prefix="k2ingest-") as scratch:
                local = Path(scratch) / name
                self.client.download_file(bucket, staging, str(local), Config=self._transfer_config())
                verified = verify_file(local, {"MAST's size": file.mast_size,
                                               "the copy's length": int(head["ContentLength"])})
            s3_sha256 = _hex_checksum(head.get("ChecksumSHA256", ""))
            if s3_sha256 and s3_sha256 != verified.sha256:
                raise VerificationError(f"{file.source_key}: S3's SHA-256 of the copy differs from the bytes verified")
            self.hook.copy_object(source_bucket_key=staging, dest_bucket_key=key, source_bucket_name=bucket,
                                  dest_bucket_name=bucket, acl_policy="no-acl")
        finally:
            self.client.delete_object(Bucket=bucket, Key=staging)
        return _result(file, COPIED, self.destination, verified, "server-side-read-back", verified.size)

    def _copy_streamed(self, file: LightCurveFile) -> CopyResult:
        with tempfile.TemporaryDirectory(prefix="k2ingest-") as scratch:
            local = Path(scratch) / Path(file.source_key).name
            length = self.source.download(file.source_key, local)
            verified = verify_file(local, {"MAST's size": file.mast_size, "the source's length": length})
            self._transfer_config()  # load_file uses the hook's TransferConfig: bound it first
            # No acl_policy: load_file would send "no-acl" as a canned ACL, which S3 rejects (copy_object
            # alone treats "no-acl" as "send none"); the bucket's default applies, as for server-side copies.
            self.hook.load_file(str(local), key=self.destination.key(file.source_key),
                                bucket_name=self.destination.root, replace=True)
        return _result(file, COPIED, self.destination, verified, "streamed", verified.size)

    def adopt(self, file: LightCurveFile) -> CopyResult:
        key = self.destination.key(file.source_key)
        with tempfile.TemporaryDirectory(prefix="k2ingest-") as scratch:
            local = Path(scratch) / Path(key).name
            self.client.download_file(self.destination.root, key, str(local), Config=self._transfer_config())
            try:
                verified = verify_file(local, {"MAST's size": file.mast_size})
            except VerificationError:
                self.client.delete_object(Bucket=self.destination.root, Key=key)
                raise
        return _result(file, ADOPTED, self.destination, verified, "adopted", verified.size)


Writer = LocalWriter | S3Writer


def copy_files(files: Iterable[LightCurveFile], writer: Writer, cataloged: dict[str, int],
               threads: int) -> list[CopyResult]:
    """Copy every file not already at the destination, ``threads`` at a time; failures are results too."""
    def one(file: LightCurveFile) -> CopyResult:
        try:
            return _with_retries(lambda: _copy_one(file, writer, cataloged), file.source_key)
        except Exception as err:
            log.error("Giving up on %s: %s", file.source_key, err)
            return CopyResult(file=file, status=FAILED, destination_uri=writer.destination.uri(file.source_key),
                              error=f"{type(err).__name__}: {err}")

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="copy") as pool:
        return list(pool.map(one, files))


def _copy_one(file: LightCurveFile, writer: Writer, cataloged: dict[str, int]) -> CopyResult:
    uri = writer.destination.uri(file.source_key)
    size = writer.existing_size(file.source_key)
    if size == file.mast_size:
        if cataloged.get(uri) == size:
            return CopyResult(file=file, status=PRESENT, destination_uri=uri, size=size, method="skipped")
        return writer.adopt(file)
    return writer.copy(file)


def _result(file: LightCurveFile, status: str, destination: Destination, verified: Verified, method: str,
            moved: int) -> CopyResult:
    return CopyResult(file=file, status=status, destination_uri=destination.uri(file.source_key),
                      size=verified.size, sha256=verified.sha256, fits_checksum=verified.fits_checksum,
                      method=method, bytes_through_worker=moved)


def _remove_stale_partials(final: Path) -> None:
    """Delete partial files of ``final`` that no running copy holds locked (left by a killed worker)."""
    for stale in final.parent.glob(f".{glob.escape(final.name)}.part-*"):
        try:
            with open(stale, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                stale.unlink(missing_ok=True)
                log.info("Removed %s, left by a copy that was killed", stale.name)
        except (BlockingIOError, FileNotFoundError):
            continue


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hex_checksum(b64: str) -> str:
    return base64.b64decode(b64).hex() if b64 else ""


def _same_content(source_etag: str, copy_etag: str, encryption: str) -> bool:
    """Whether two ETags show the same bytes. Only plain MD5 ETags can be compared: not a multipart
    source's (``<md5>-<parts>``), nor a copy encrypted with KMS (its ETag is not an MD5 of the content)."""
    copy_etag = copy_etag.strip('"')
    if "-" in source_etag or not copy_etag or encryption.startswith("aws:kms"):
        return True
    return source_etag == copy_etag


def _is_access_denied(err: Exception) -> bool:
    code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
    return code in ("AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch")

"""Copy light curves to a destination's storage, from the public bucket or MAST's download service: verified,
atomic, never twice.

Per file: nothing is done if the destination holds it at MAST's size and the catalog knows it; it is verified
and adopted if the catalog does not; otherwise it is copied from its source (``source_mode``):

* ``bucket``: from the public bucket only. A copy goes server-side when the storage can read the public bucket (S3
  checks it, no byte through the worker), or, with ``read_back``, server-side to a hidden staging key, read back to
  check its FITS sums, then copied to its final key. Otherwise the file is downloaded into the storage's atomic put
  and verified before it shows under its name. A file the bucket does not hold fails (retrying cannot help).
* ``mast``: from MAST's download service over HTTPS, into the storage's atomic put; the bucket is never asked.
* ``auto``: from the bucket where it holds the file, over HTTPS otherwise.

A Copier given no download client (``downloads``) copies nothing over HTTPS: it defers those files (status
``deferred``), and the ingest's HTTPS step, in a pool of its own, fetches them with one that has a client.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lightcurve_ingest.clients.mast_download import MastDownloads
from lightcurve_ingest.domain.missions import Mission
from lightcurve_ingest.domain.payloads import LightCurveFile
from lightcurve_ingest.domain.verify import VerificationError, Verified, check_size, verify_file
from lightcurve_ingest.errors import DiskFullError, InvalidInputError
from lightcurve_ingest.settings import COPY_ATTEMPTS, SOURCE_BUCKET
from lightcurve_ingest.storage.backends import ServerSideCopyRefusedError, Storage, error_code
from lightcurve_ingest.storage.source_bucket import SourceBucket, SourceObject

log = logging.getLogger(__name__)

COPIED, PRESENT, ADOPTED, FAILED, DEFERRED = "copied", "present", "adopted", "failed", "deferred"
AUTO, BUCKET, MAST = "auto", "bucket", "mast"  # source modes (the ``source`` param)
# What a file's FITS sums say, as the catalog's ``fits_checksum`` column records it
SUMS_VERIFIED, SUMS_ABSENT, SUMS_NOT_READ = "verified", "absent", "not read"
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})  # S3's replies for a key it does not hold


class NotInBucketError(Exception):
    """The public bucket does not hold the file; with ``source: bucket`` retrying cannot help."""


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
    disk_full: bool = False
    source: str = "bucket"  # where the bytes came from: "bucket" or "mast" (MAST's download service)
    sums_read: bool = True  # False where the file's FITS sums were not read (a plain server-side copy)
    not_in_bucket: bool = False  # failed because the public bucket does not hold it (source "bucket")

    @property
    def fits_checksum_state(self) -> str:
        """``verified`` (its FITS sums matched), ``absent`` (read: it carries none, astropy checked its structure)
        or ``not read``."""
        if self.fits_checksum:
            return SUMS_VERIFIED
        return SUMS_ABSENT if self.sums_read else SUMS_NOT_READ


class Copier:
    """Copies one mission's light curves into one storage; ``cataloged`` maps destination URIs to sizes."""

    def __init__(self, mission: Mission, storage: Storage, source: SourceBucket | None, *, cataloged: dict[str, int],
                 read_back: bool = False, listed_here: dict[str, int] | None = None,
                 listed_there: dict[str, SourceObject] | None = None, source_mode: str = AUTO,
                 downloads: MastDownloads | None = None) -> None:
        """``listed_here`` (destination key -> size) and ``listed_there`` (source key -> length and ETag), when a
        listing already gave them, replace a HEAD request a file at the destination and at the source.
        ``source``: the public bucket (None with ``source_mode`` mast: it is never asked); ``downloads``: MAST's
        download service (None: files to fetch over HTTPS are deferred)."""
        if source is None and source_mode != MAST:
            raise ValueError(f"source mode {source_mode} needs the public bucket")
        self.mission = mission
        self.storage = storage
        self.source = source
        self.cataloged = cataloged
        self.read_back = read_back
        self.server_side = source is not None and storage.can_copy_from(source)
        self.listed_here = listed_here
        self.listed_there = listed_there or {}
        self.source_mode = source_mode
        self.downloads = downloads

    def copy_all(self, files: Iterable[LightCurveFile], threads: int,
                 on_result: Callable[[CopyResult], None] | None = None) -> list[CopyResult]:
        """Copy every file not already at the destination, ``threads`` at a time; failures are results too.
        ``on_result`` is called with each result as it comes (progress)."""
        def one(file: LightCurveFile) -> CopyResult:
            result = self._one_with_retries(file)
            if on_result is not None:
                on_result(result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="copy") as pool:
            return list(pool.map(one, files))

    def _one_with_retries(self, file: LightCurveFile) -> CopyResult:
        try:
            return _with_retries(lambda: self.copy_one(file), file.source_key)
        except Exception as err:
            log.error("Giving up on %s: %s", file.source_key, err)
            return CopyResult(file=file, status=FAILED, destination_uri=self._uri(file),
                              error=f"{type(err).__name__}: {err}", disk_full=isinstance(err, DiskFullError),
                              not_in_bucket=isinstance(err, NotInBucketError))

    def _uri(self, file: LightCurveFile) -> str:
        try:
            return self.storage.uri(file.source_key)
        except InvalidInputError:
            return file.source_key

    def copy_one(self, file: LightCurveFile) -> CopyResult:
        key = self.mission.validate_key(file.source_key)  # before anything is read or written
        size = self.storage.size(key) if self.listed_here is None else self.listed_here.get(key)
        if size == file.mast_size:
            if self.cataloged.get(self.storage.uri(key)) == size:
                return CopyResult(file=file, status=PRESENT, destination_uri=self.storage.uri(key), size=size,
                                  method="skipped", source=self._source_name)
            return self._adopt(file)
        if self.source_mode == MAST:
            return self._over_https(file)
        try:
            return self._from_bucket(file)
        except Exception as err:
            if error_code(err) not in _MISSING_CODES:
                raise
        if self.source_mode == BUCKET:
            raise NotInBucketError(f"s3://{SOURCE_BUCKET}/{file.source_key} is not in the public bucket; with "
                                   "source auto or mast it is fetched from MAST's download service")
        return self._over_https(file)

    @property
    def _source_name(self) -> str:
        """The source a file found at the destination is recorded with: the one this copier fetches from."""
        return "mast" if self.source_mode == MAST else "bucket"

    def _from_bucket(self, file: LightCurveFile) -> CopyResult:
        if self.server_side:
            try:
                return self._copy_read_back(file) if self.read_back else self._copy_server_side(file)
            except ServerSideCopyRefusedError as err:
                log.info("Server-side copy refused (%s); streaming through the worker from now on", err)
                self.server_side = False
        return self._download(file)

    def _over_https(self, file: LightCurveFile) -> CopyResult:
        """Download the file from MAST's download service into the storage's atomic put, verified; without a
        download client, leave it to the HTTPS step."""
        if self.downloads is None:
            return CopyResult(file=file, status=DEFERRED, destination_uri=self.storage.uri(file.source_key),
                              method="deferred", source="mast")

        def fill(path: Path) -> Verified:
            length = self.downloads.download(file.data_uri, path)
            return self._verify(file, path, {"MAST's size": file.mast_size, "the download's length": length})

        verified = self.storage.put(file.source_key, fill)
        return self._result(file, COPIED, verified, "https", verified.size, source="mast")

    def _verify(self, file: LightCurveFile, path: Path, sizes: dict[str, int]) -> Verified:
        """The file's checks, with its product's light-curve extension (K2SFF's BESTAPER, EVEREST's ARRAYS...)."""
        product = file.product or self.mission.product_of_key(file.source_key)
        return verify_file(path, sizes, self.mission.format_of(product).extension)

    def _download(self, file: LightCurveFile) -> CopyResult:
        """Stream the source into the storage's atomic put; it shows under its name only once verified."""
        def fill(path: Path) -> Verified:
            length = self.source.download(file.source_key, path)
            return self._verify(file, path, {"MAST's size": file.mast_size, "the source's length": length})

        verified = self.storage.put(file.source_key, fill)
        method = "download" if self.storage.is_local else "streamed"
        return self._result(file, COPIED, verified, method, verified.size)

    def _adopt(self, file: LightCurveFile) -> CopyResult:
        """Verify a file already at its final name that the catalog does not know; remove it if bad."""
        with self.storage.fetched(file.source_key) as path:
            try:
                verified = self._verify(file, path, {"MAST's size": file.mast_size})
            except VerificationError:
                self.storage.delete(file.source_key)
                raise
        moved = 0 if self.storage.is_local else verified.size
        return self._result(file, ADOPTED, verified, "adopted", moved, source=self._source_name)

    def _copy_server_side(self, file: LightCurveFile) -> CopyResult:
        """One ``CopyObject`` straight to the final key; no byte goes through the worker.

        The source's length is checked against MAST's size before anything is written, the copy is pinned
        to the object checked, and S3 computes the copy's SHA-256 (recorded) and ETag (compared with the
        source's). The FITS sums are not read: ``read_back`` checks them too.
        """
        source = self.listed_there.get(file.source_key) or self.source.head(file.source_key)
        check_size(source.length, file.mast_size, f"{file.source_key}: the source's length against MAST's size")
        receipt = self.storage.copy_from(self.source, file.source_key, file.source_key, source_etag=source.etag)
        if not _same_content(source.etag, receipt.etag, receipt.encryption):
            self.storage.delete(file.source_key)
            raise VerificationError(f"{file.source_key}: the copy's ETag {receipt.etag} is not the source's "
                                    f"{source.etag}")
        checked = Verified(size=source.length, sha256=receipt.sha256, fits_checksum=False)
        return self._result(file, COPIED, checked, "server-side", 0, sums_read=False)

    def _copy_read_back(self, file: LightCurveFile) -> CopyResult:
        """Copy to a hidden staging key, read it back once to verify it, then copy it to its final key.

        No source byte goes through the worker, but every byte of the copy does, once: that is what lets
        the FITS sums be checked (a damaged source object is caught). Nothing unverified shows under the
        final key.
        """
        staging = self.storage.staging_key(file.source_key)
        try:
            receipt = self.storage.copy_from(self.source, file.source_key, staging)
            with self.storage.fetched(staging) as path:
                verified = self._verify(file, path, {"MAST's size": file.mast_size})
            if receipt.sha256 and receipt.sha256 != verified.sha256:
                raise VerificationError(f"{file.source_key}: S3's SHA-256 of the copy differs from the bytes verified")
            self.storage.copy_within(staging, file.source_key)
        finally:
            self.storage.delete(staging)
        return self._result(file, COPIED, verified, "server-side-read-back", verified.size)

    def _result(self, file: LightCurveFile, status: str, verified: Verified, method: str, moved: int, *,
                source: str = "bucket", sums_read: bool = True) -> CopyResult:
        return CopyResult(file=file, status=status, destination_uri=self.storage.uri(file.source_key),
                          size=verified.size, sha256=verified.sha256, fits_checksum=verified.fits_checksum,
                          method=method, bytes_through_worker=moved, source=source, sums_read=sums_read)


def count_statuses(results: list[CopyResult]) -> dict[str, int]:
    counts = {COPIED: 0, ADOPTED: 0, PRESENT: 0, FAILED: 0, DEFERRED: 0}
    for result in results:
        counts[result.status] += 1
    return counts


def _with_retries(action: Callable[[], CopyResult], what: str) -> CopyResult:
    """Run ``action`` up to COPY_ATTEMPTS times, with capped exponential backoff and jitter between them.

    Each S3 request inside is already retried by botocore: this loop is for what botocore cannot retry, a reply
    cut mid-body or one that fails verification.
    """
    for attempt in range(1, COPY_ATTEMPTS + 1):
        try:
            return action()
        except (InvalidInputError, DiskFullError, NotInBucketError):  # retrying at once cannot help
            raise
        except Exception as err:  # S3 faults, resets and failed verifications are all retried
            if attempt == COPY_ATTEMPTS:
                raise
            delay = min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())
            log.warning("%s failed (attempt %d of %d), retrying in %.1fs: %s", what, attempt, COPY_ATTEMPTS, delay,
                        err)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _same_content(source_etag: str, copy_etag: str, encryption: str) -> bool:
    """Whether two ETags show the same bytes. Only plain MD5 ETags can be compared: not a multipart
    source's (``<md5>-<parts>``), nor a copy encrypted with KMS (its ETag is not an MD5 of the content)."""
    copy_etag = copy_etag.strip('"')
    if "-" in source_etag or not copy_etag or encryption.startswith("aws:kms"):
        return True
    return source_etag == copy_etag

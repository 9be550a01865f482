"""A local S3 (the public ``stpubdata`` bucket) built on moto's server.

moto's WSGI app (what ``ThreadedMotoServer`` runs) is served by werkzeug on 127.0.0.1
behind a small middleware adding request counts, latency and faults:

* ``http500``  - 500 ``InternalError`` S3 XML error (botocore retries it),
* ``slowdown`` - 503 ``SlowDown`` S3 XML error (botocore retries it),
* ``reset``    - on a GET of an object: full ``Content-Length`` sent, then the connection
  is closed after half the body.
* ``short``    - on a GET of an object: a well-formed reply holding only the first half of the
  object (its Content-Length says so too), as a cache serving a short copy would.

Extras for reliability and security tests (off by default): ``body_delay_s`` sends object
bodies in 8 KiB pieces with that pause between them (a copy can be caught half-way), and
``request_log`` records each request's method, path, query, Host and ``Authorization`` headers, whether it
was presigned, and a copy's source and the source ETag it was pinned to. :meth:`S3Standin.public_reads` counts,
by key, the reads of ``stpubdata`` objects (GETs and copies out of it): what came from the bucket.

The bucket holds every light curve of the universe, its field stars and decoys, and the HLSPs
:func:`.hlsp.in_public_bucket` says it holds (``universe.bucket_hlsp_files``).

Like the real bucket, ``stpubdata`` holds objects uploaded in parts, whose ETag is ``<md5 of the parts' MD5s>-<parts>``
(:func:`uploaded_in_parts` says which), beside objects put whole (ETag: the MD5 of the content).

A copy that names the source's ETag (``x-amz-copy-source-if-match``) fails with 412 ``PreconditionFailed`` when
the source's is another, as on S3 (moto itself does not check it).

Like AWS, anonymous clients may list and read ``stpubdata`` but write nothing, and no
client may write to ``stpubdata`` (403 ``AccessDenied``) except the stand-in itself
(``put_object``). Other buckets are private to the dummy ``testing`` credentials.

moto keeps its state in process-global backends: run one S3 stand-in per process at a
time (starting one resets moto's state). moto reads a whole object into memory per GET;
the middleware itself does not buffer.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO
from urllib.parse import unquote

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import ThreadedWSGIServer

from ._server import HOST, BackgroundServer, ConnectionTrackingMixin
from .faults import FaultQueue, Instrumented, RequestCounter
from .records import HlspFile, LightCurveFile
from .universe import Universe

PUBLIC_BUCKET = "stpubdata"
REGION = "us-east-1"
FAULT_KINDS = frozenset({"http500", "slowdown", "reset", "short"})
_PIECE = 8192
_ERRORS = {
    "http500": ("500 Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
    "slowdown": ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    "denied": ("403 Forbidden", "AccessDenied", "Access Denied"),
    "precondition": ("412 Precondition Failed", "PreconditionFailed",
                     "At least one of the pre-conditions you specified did not hold"),
}
_WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
_ADMIN_HEADER = "x-standin-admin"
PART_BYTES = 5 * 2**20  # the smallest part S3 (and moto) take, but the last: a 12 MB file goes in 3 parts


def uploaded_in_parts(file: LightCurveFile) -> bool:
    """Whether the stand-in uploads ``file`` in parts: every TESS file, and the K2 and Kepler files whose id plus
    unit is a multiple of 3 (so each mission's runs meet both kinds of ETag)."""
    return file.mission == "TESS" or (file.target_id + file.unit) % 3 == 0


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class _WsgiServer(ConnectionTrackingMixin, ThreadedWSGIServer):
    pass


class S3Standin(Instrumented):
    """moto S3 on 127.0.0.1 holding every Universe file at its key in ``stpubdata``."""

    def __init__(self, universe: Universe | None = None, *, latency_s: float = 0.0, port: int = 0) -> None:
        self.latency_s = latency_s
        self.body_delay_s = 0.0
        self.request_log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._faults = FaultQueue(FAULT_KINDS)
        self._counter = RequestCounter()
        self._stopping = threading.Event()
        app = _Middleware(DomainDispatcherApplication(create_backend_app), self)
        server = _WsgiServer(HOST, port, app, handler=_QuietHandler)
        self._server: BackgroundServer | None = BackgroundServer(server, "s3-standin")
        self._client = self.client(signed=True)
        self._client.meta.events.register("before-sign.s3", _mark_as_admin)
        try:
            self._post(f"{self.endpoint_url}/moto-api/reset")
            if universe is not None:
                self.create_bucket(PUBLIC_BUCKET, public_read=True)
                self._upload_universe(universe)
        except BaseException:
            self.stop()
            raise
        self.reset_counters()

    # --- public API -----------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        return self._server.base_url

    @property
    def requests_by_method(self) -> Counter[str]:
        return self._counter.by_label

    def _clear_logs(self) -> None:
        with self._log_lock:
            self.request_log.clear()

    def add_fault(self, kind: str, times: int = 1, key_substring: str | None = None) -> None:
        """Make the next ``times`` matching requests (path contains ``key_substring``) fail."""
        self._faults.add(kind, times, key_substring)

    def client(self, *, signed: bool = False, **config: Any):
        """A boto3 S3 client for this endpoint (anonymous unless ``signed``, keys testing/testing)."""
        if not signed:
            config.setdefault("signature_version", UNSIGNED)
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing", config=Config(**config))

    def create_bucket(self, name: str, *, public_read: bool = False) -> None:
        """Create a bucket; ``public_read`` adds a policy letting anonymous clients list and read."""
        self._client.create_bucket(Bucket=name)
        if public_read:
            self._client.put_bucket_policy(Bucket=name, Policy=json.dumps(_public_read_policy(name)))

    def put_object(self, key: str, data: bytes | BinaryIO, bucket: str = PUBLIC_BUCKET) -> None:
        """Store ``data`` at ``key``; a file object is streamed (multipart when large)."""
        fileobj = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
        self._client.upload_fileobj(fileobj, bucket, key)

    def public_reads(self) -> Counter[str]:
        """Reads of ``stpubdata`` objects since the last reset, by key: object GETs (each part of a ranged read
        counts) and server-side copies out of it. Listings and HEADs are not reads."""
        reads: Counter[str] = Counter()
        with self._log_lock:
            entries = list(self.request_log)
        for entry in entries:
            source = entry["path"] if entry["method"] == "GET" else entry["copy_source"] or ""
            bucket, _, key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/")
            if bucket == PUBLIC_BUCKET and key and (entry["method"] == "GET" or entry["method"] == "PUT"):
                reads[key] += 1
        return reads

    def etag(self, key: str, bucket: str = PUBLIC_BUCKET) -> str:
        """The object's ETag without quotes (read in process: no request is counted or logged)."""
        return _moto_backend().get_object(bucket, key).etag.strip('"')

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()
            self._server.stop()
            self._server = None
            self._client.close()

    def __enter__(self) -> S3Standin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals ------------------------------------------------------------------------
    def _upload_universe(self, universe: Universe) -> None:
        def upload(file: LightCurveFile | HlspFile) -> None:
            content = universe.fits_bytes(file)
            if uploaded_in_parts(file):
                self._upload_in_parts(file.key, content)
            else:
                self._client.put_object(Bucket=PUBLIC_BUCKET, Key=file.key, Body=content)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(upload, universe.files + universe.field_files + universe.bucket_hlsp_files))
        self.load_directly(universe.decoys)  # over a thousand small objects: no HTTP request each

    def _upload_in_parts(self, key: str, content: bytes) -> None:
        """A multipart upload of ``PART_BYTES`` parts (one part if smaller): its ETag is ``<md5>-<parts>``."""
        upload_id = self._client.create_multipart_upload(Bucket=PUBLIC_BUCKET, Key=key)["UploadId"]
        parts = []
        for number, start in enumerate(range(0, len(content), PART_BYTES), start=1):
            reply = self._client.upload_part(Bucket=PUBLIC_BUCKET, Key=key, UploadId=upload_id, PartNumber=number,
                                             Body=content[start:start + PART_BYTES])
            parts.append({"PartNumber": number, "ETag": reply["ETag"]})
        self._client.complete_multipart_upload(Bucket=PUBLIC_BUCKET, Key=key, UploadId=upload_id,
                                               MultipartUpload={"Parts": parts})

    def load_directly(self, objects: Iterable[tuple[str, bytes]], bucket: str = PUBLIC_BUCKET) -> int:
        """Store many objects straight into moto's in-process backend (no HTTP request each): the benchmark's
        tens of thousands of small objects load in seconds. Returns how many were stored."""
        backend = _moto_backend()
        count = 0
        for key, data in objects:
            backend.put_object(bucket, key, data)
            count += 1
        return count

    @staticmethod
    def _post(url: str) -> None:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=30):
            pass

    def _log_request(self, method: str, path: str, environ: dict[str, Any]) -> None:
        query = environ.get("QUERY_STRING", "")
        entry = {"method": method, "path": path, "query": unquote(query), "host": environ.get("HTTP_HOST", ""),
                 "authorization": environ.get("HTTP_AUTHORIZATION"),
                 "presigned": "X-Amz-Signature" in query, "copy_source": environ.get("HTTP_X_AMZ_COPY_SOURCE"),
                 "copy_source_if_match": environ.get("HTTP_X_AMZ_COPY_SOURCE_IF_MATCH")}
        with self._log_lock:
            self.request_log.append(entry)

    def _before_request(self, method: str, path: str) -> str | None:
        """Count, wait the latency, and return the fault to apply (if any)."""
        self._counter.count(method)
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        is_object_get = method == "GET" and "/" in path.strip("/")

        def applies(kind: str, match: str | None) -> bool:
            return (match is None or match in path) and (kind not in ("reset", "short") or is_object_get)

        return self._faults.take(applies)


def _half_object(app: Callable, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    """A complete, well-formed reply holding only the first half of the object."""
    captured: dict[str, Any] = {}

    def capture(status: str, response_headers: list, exc_info: Any = None) -> Callable:
        captured.update(status=status, headers=response_headers)
        return lambda data: None

    body_iter = app(environ, capture)
    try:
        body = b"".join(body_iter)
    finally:
        if hasattr(body_iter, "close"):
            body_iter.close()
    if not captured["status"].startswith("200"):
        start_response(captured["status"], captured["headers"])
        return [body]
    half = body[: len(body) // 2]
    headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-length", "etag", "content-md5")
               and not k.lower().startswith("x-amz-checksum")]
    start_response(captured["status"], [*headers, ("Content-Length", str(len(half)))])
    return [half]


def _trickle(body: Iterable[bytes], owner: S3Standin) -> Iterator[bytes]:
    """Yield the body in small pieces with ``owner.body_delay_s`` between them."""
    try:
        for chunk in body:
            for start in range(0, len(chunk), _PIECE):
                yield chunk[start:start + _PIECE]
                if owner._stopping.wait(owner.body_delay_s):
                    return
    finally:
        if hasattr(body, "close"):
            body.close()


def _mark_as_admin(request: Any, **_: Any) -> None:
    request.headers[_ADMIN_HEADER] = "1"


def _public_read_policy(bucket: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
        # moto checks anonymous HEADs against "s3:HeadObject" (AWS itself uses s3:GetObject).
        "Action": ["s3:GetObject", "s3:HeadObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }]}


class _Middleware:
    """WSGI wrapper: counters, latency and faults in front of moto's app."""

    def __init__(self, app: Callable, owner: S3Standin) -> None:
        self._app = app
        self._owner = owner

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = unquote(environ.get("PATH_INFO", ""))
        if path.startswith("/moto-api"):
            return self._app(environ, start_response)
        method = environ["REQUEST_METHOD"]
        if environ.get("HTTP_X_STANDIN_ADMIN") != "1":
            self._owner._log_request(method, path, environ)
        fault = self._owner._before_request(method, path)
        if method in _WRITE_METHODS and not _may_write(environ, path):
            return _error_response("denied", path, start_response)
        if fault in _ERRORS:
            return _error_response(fault, path, start_response)
        if method == "PUT" and not _copy_source_matches(environ):
            return _error_response("precondition", path, start_response)
        if fault == "reset":
            return _cut_short(self._app, environ, start_response)
        if fault == "short":
            return _half_object(self._app, environ, start_response)
        is_object_get = method == "GET" and "/" in path.strip("/")
        if self._owner.body_delay_s and is_object_get:
            return _trickle(self._app(environ, start_response), self._owner)
        return self._app(environ, start_response)


def _may_write(environ: dict[str, Any], path: str) -> bool:
    """Like AWS: no anonymous writes, and nobody but the stand-in itself writes to stpubdata."""
    if environ.get("HTTP_X_STANDIN_ADMIN") == "1":
        return True
    signed = "HTTP_AUTHORIZATION" in environ or "X-Amz-Signature" in environ.get("QUERY_STRING", "")
    return signed and path.strip("/").split("/", 1)[0] != PUBLIC_BUCKET


def _copy_source_matches(environ: dict[str, Any]) -> bool:
    """Whether a copy's ``x-amz-copy-source-if-match`` (if any) is its source's ETag, quoted or not."""
    wanted, source = environ.get("HTTP_X_AMZ_COPY_SOURCE_IF_MATCH"), environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if not wanted or not source:
        return True
    bucket, _, key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/")
    try:
        found = _moto_backend().get_object(bucket, key)
    except Exception:  # no such bucket: moto's own reply says so
        return True
    return found is None or wanted.strip('"') == found.etag.strip('"')


def _moto_backend() -> Any:
    """moto's S3 backend: the server runs in this process."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["global"]


def _error_response(kind: str, path: str, start_response: Callable) -> list[bytes]:
    status, code, message = _ERRORS[kind]
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<Resource>{path}</Resource><RequestId>STANDIN0000000000</RequestId></Error>").encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _cut_short(app: Callable, environ: dict[str, Any], start_response: Callable) -> Iterator[bytes]:
    """Send the real headers (full Content-Length), half the body, then drop the connection."""
    headers: dict[str, str] = {}

    def capture(status: str, response_headers: list, exc_info: Any = None) -> Callable:
        headers.update((k.lower(), v) for k, v in response_headers)
        return start_response(status, response_headers, exc_info)

    body = app(environ, capture)
    limit = max(1, int(headers.get("content-length", "2")) // 2)
    sent = 0
    try:
        for chunk in body:
            if sent + len(chunk) >= limit:
                yield chunk[: limit - sent]
                break
            sent += len(chunk)
            yield chunk
    finally:
        if hasattr(body, "close"):
            body.close()
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

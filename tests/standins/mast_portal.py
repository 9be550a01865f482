"""A local MAST Portal: the HTTP endpoints astroquery's ``Observations`` and a pipeline use.

* ``POST /api/v0/invoke``  (form ``request=<url-encoded JSON>``): ``Mast.Caom.Filtered``,
  ``Mast.Caom.Products``, with ``pagesize``/``page`` paging.
* ``POST /portal/Mashup/Mashup.asmx/columnsconfig`` (form ``colConfigId=<service>``).
* ``GET /api/v0.1/path_lookup/?uri=...&uri=...``
* ``GET|HEAD /api/v0.1/Download/file?uri=<dataURI>``: every light curve, the bucket's (light curves and Kepler
  bundles) and the HLSPs' (the universe's ``hlsp_files``, in the bucket or not), streamed with Content-Length;
  other products (target pixel files...) 404. ``downloads`` counts the GETs by dataURI.

Every mission of the universe is served (K2, Kepler, TESS). ``release_cutoff_mjd`` hides the
observations (and their products) released after it, as MAST lists nothing before release.

Counters, latency and faults can be changed at any time, from any thread.

Extras for reliability and security tests (off by default, so the replies above are unchanged):
``add_product`` injects crafted product rows (any dataURI, size...) into ``Mast.Caom.Products``
replies; a fault's ``service`` may be ``"target:<text>"`` to fail only requests whose JSON
contains ``<text>`` (one batch); ``retry_after`` adds a ``Retry-After`` header to 503 faults;
``authorization_headers`` records every ``Authorization`` header received.

Download faults (GETs of ``Download/file`` only; ``service`` ``"download"`` or ``None`` for any download,
``"uri:<text>"`` for those whose dataURI contains ``<text>``): ``truncated`` sends the full Content-Length, half
the file, then closes the connection; ``short`` sends a complete reply holding only the first half of the file
(its Content-Length says so), as a cache serving a cut copy would.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from ._server import BackgroundServer, Reply, Request, serve
from .faults import FaultQueue, Instrumented, RequestCounter
from .mast_query import (
    PRODUCT_FIELDS,
    ServiceError,
    caom_filtered,
    caom_products,
    columns_config,
    paged_reply,
    product_row,
)
from .universe import Product, Universe, bucket_path_for_uri

INVOKE_PATH = "/api/v0/invoke"
COLUMNS_CONFIG_PATH = "/portal/Mashup/Mashup.asmx/columnsconfig"
PATH_LOOKUP_PATH = "/api/v0.1/path_lookup/"
DOWNLOAD_PATH = "/api/v0.1/Download/file"
FAULT_KINDS = frozenset({"http503", "http500", "hang", "malformed_json", "executing", "error_status", "truncated",
                         "short"})
_DOWNLOAD_FAULTS = frozenset({"truncated", "short"})
_SERVICES = {"Mast.Caom.Filtered": caom_filtered, "Mast.Caom.Products": caom_products}
_LABELS = {COLUMNS_CONFIG_PATH: "columnsconfig", PATH_LOOKUP_PATH: "path_lookup", DOWNLOAD_PATH: "download"}


class MastPortalStandin(Instrumented):
    """Serve ``universe`` as MAST does. Request labels (for counters and faults): the invoked
    service name (``Mast.Caom.Filtered``...), ``columnsconfig``, ``path_lookup``, ``download``."""

    def __init__(self, universe: Universe, *, latency_s: float = 0.0, hang_s: float = 30.0, port: int = 0) -> None:
        self.universe = universe
        self.latency_s = latency_s
        self.hang_s = hang_s
        self.invocations: list[dict[str, Any]] = []  # decoded JSON of every /invoke request
        self.authorization_headers: list[str] = []  # every Authorization header received
        self.retry_after: str | None = None  # when set, sent as Retry-After with "http503" faults
        self.release_cutoff_mjd: float | None = None  # when set, later t_obs_release are not listed
        self.downloads: Counter[str] = Counter()  # GETs of Download/file by dataURI (what came over HTTPS)
        self._downloads_lock = threading.Lock()
        self._extra_products: list[dict[str, Any]] = []
        self._faults = FaultQueue(FAULT_KINDS)
        self._counter = RequestCounter()
        self._stopping = threading.Event()
        self._known_uris = {p.data_uri for p in universe.products}
        self._server: BackgroundServer | None = serve(self._handle, "mast-standin", port)

    # --- public knobs -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def requests_by_service(self) -> Counter[str]:
        return self._counter.by_label

    @property
    def download_count(self) -> int:
        """GETs of ``Download/file`` since the last reset: the files asked for over HTTPS."""
        with self._downloads_lock:
            return sum(self.downloads.values())

    def _clear_logs(self) -> None:
        self.invocations.clear()
        self.authorization_headers.clear()
        self.downloads.clear()

    def add_fault(self, kind: str, times: int = 1, service: str | None = None) -> None:
        """Make the next ``times`` requests labelled ``service`` (any if None) fail with ``kind`` (download faults:
        see the module docstring)."""
        self._faults.add(kind, times, service)

    def add_product(self, obsid: str, data_uri: str, *, size: int | None = 1000, subgroup: str = "LLC",
                    **fields: Any) -> dict[str, Any]:
        """Serve one more ``Mast.Caom.Products`` row for ``obsid`` (crafted: nothing checks it).

        ``fields`` override any column of the row (``productFilename``, ``obs_id``...); the
        row is returned. Removed by :meth:`clear_products`.
        """
        filename = data_uri.rsplit("/", 1)[-1]
        product = Product(str(obsid), fields.pop("obs_id", "crafted"), filename, data_uri, subgroup,
                          "crafted by a test", size or 0)
        row = {**product_row(product), "size": size, **fields}
        self._extra_products.append(row)
        return row

    def clear_products(self) -> None:
        self._extra_products.clear()

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()  # wakes sleeping "hang" faults and latencies
            self._server.stop()
            self._server = None

    def __enter__(self) -> MastPortalStandin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request handling ---------------------------------------------------------------
    def _handle(self, request: Request) -> Reply:
        invoke = _decode_invoke(request) if request.path == INVOKE_PATH else None
        label = (invoke or {}).get("service") or _LABELS.get(request.path, request.path)
        self._counter.count(label)
        if invoke is not None:
            self.invocations.append(invoke)
        uri = request.query.get("uri", [""])[0] if label == "download" and request.method == "GET" else None
        if uri is not None:
            with self._downloads_lock:
                self.downloads[uri] += 1
        if "authorization" in request.headers:
            self.authorization_headers.append(request.headers["authorization"])
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        text = json.dumps(invoke) if invoke is not None else ""

        def applies(kind: str, match: str | None) -> bool:
            if kind in _DOWNLOAD_FAULTS:
                return uri is not None and (match in (None, "download") or (
                    match.startswith("uri:") and match[len("uri:"):] in uri))
            if match is not None and match.startswith("target:"):
                return match[len("target:"):] in text
            return match is None or match == label

        fault = self._faults.take(applies)
        if fault == "hang":
            self._stopping.wait(self.hang_s)
        elif fault in _DOWNLOAD_FAULTS:
            return _cut(self._download(uri), fault)
        elif fault is not None:
            reply = _fault_reply(fault)
            if fault == "http503" and self.retry_after is not None:
                reply.headers["Retry-After"] = self.retry_after
            return reply
        return self._route(request, invoke)

    def _route(self, request: Request, invoke: dict[str, Any] | None) -> Reply:
        if request.path == INVOKE_PATH:
            return self._invoke(invoke)
        if request.path == COLUMNS_CONFIG_PATH:
            config_id = request.form().get("colConfigId", [""])[0]
            return _json_reply(columns_config(config_id))
        if request.path == PATH_LOOKUP_PATH:
            return _json_reply({uri: self._path_lookup(uri) for uri in request.query.get("uri", [])})
        if request.path == DOWNLOAD_PATH:
            return self._download(request.query.get("uri", [""])[0])
        return Reply(404, b"Not Found", "text/plain")

    def _invoke(self, invoke: dict[str, Any] | None) -> Reply:
        if invoke is None:
            return _json_reply({"status": "ERROR", "msg": "Could not parse the request parameter."})
        service = _SERVICES.get(invoke.get("service", ""))
        if service is None:
            return _json_reply({"status": "ERROR", "msg": f"Unknown service: {invoke.get('service')}"})
        try:
            rows, fields = service(self.universe, invoke.get("params") or {}, self.release_cutoff_mjd)
        except ServiceError as err:
            return _json_reply({"status": "ERROR", "msg": str(err)})
        if fields is PRODUCT_FIELDS and self._extra_products:
            wanted = {x.strip() for x in str((invoke.get("params") or {}).get("obsid", "")).split(",")}
            rows = rows + [r for r in self._extra_products if str(r["obsID"]) in wanted]
        return _json_reply(paged_reply(rows, fields, invoke.get("pagesize") or 50000, invoke.get("page") or 1))

    def _path_lookup(self, uri: str) -> dict[str, Any]:
        path = bucket_path_for_uri(uri) if uri in self._known_uris else None
        return {"status_code": 200 if path else 404, "path": path}

    def _download(self, uri: str) -> Reply:
        file = self.universe.file_by_uri(uri)
        if file is None:
            return Reply(404, f"File not found: {uri}".encode(), "text/plain")
        headers = {"Content-Disposition": f'attachment; filename="{file.filename}"'}
        return Reply(200, self.universe.fits_bytes(file), "application/octet-stream", headers)


def _cut(reply: Reply, kind: str) -> Reply:
    """A download broken off (``truncated``: the full Content-Length, half the body, the connection closed) or
    served short (``short``: a complete reply of half the file)."""
    if reply.status != 200:
        return reply
    half = reply.body[: len(reply.body) // 2]
    return Reply(reply.status, half, reply.content_type, reply.headers,
                 len(reply.body) if kind == "truncated" else None)


def _decode_invoke(request: Request) -> dict[str, Any] | None:
    try:
        decoded = json.loads(request.form()["request"][0])
    except (KeyError, IndexError, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload).encode(), "application/json; charset=utf-8")


def _fault_reply(kind: str) -> Reply:
    if kind == "http503":
        return Reply(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html")
    if kind == "http500":
        return Reply(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html")
    if kind == "malformed_json":
        return Reply(200, b'{"status": "COMPLETE", "msg": "", "data": [{"obsid": 95', "application/json")
    if kind == "executing":
        return _json_reply({"status": "EXECUTING", "msg": "", "data": [], "fields": []})
    return _json_reply({"status": "ERROR", "msg": "Injected error from the MAST stand-in."})

"""The clients a task is handed: built from Airflow connections by the DAGs (``wiring.connections``), directly
by tests and benchmarks. Tasks never look connections up themselves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lightcurve_ingest.clients.mast import MastClient
from lightcurve_ingest.clients.mast_download import MastDownloads
from lightcurve_ingest.clients.tap import TapClient
from lightcurve_ingest.storage.backends import Storage, open_storage
from lightcurve_ingest.storage.destination import Destination, parse_destination
from lightcurve_ingest.storage.source_bucket import SourceBucket

HookFactory = Callable[[str], Any]  # connection id -> S3Hook of a destination bucket


@dataclass
class Services:
    """The clients of a run. Each is built when a task first asks for it: only the copy reads the public bucket,
    and an S3Hook with its botocore client is slow to build (``source_hook_factory`` builds ``source_hook``
    then)."""

    mast_url: str
    archive_url: str
    source_hook: Any  # an S3Hook, or None until source() first builds it with source_hook_factory
    dest_hook_factory: HookFactory
    source_hook_factory: Callable[[], Any] | None = None

    def tap(self) -> TapClient:
        return TapClient(self.archive_url)

    def mast(self) -> MastClient:
        return MastClient(self.mast_url)

    def mast_downloads(self) -> MastDownloads:
        """MAST's download service (the ``mast_api`` connection's base URL), for files fetched over HTTPS."""
        return MastDownloads(self.mast_url)

    def source(self) -> SourceBucket:
        if self.source_hook is None and self.source_hook_factory is not None:
            self.source_hook = self.source_hook_factory()
        return SourceBucket(self.source_hook)

    def storage(self, destination: Destination, dest_aws_conn_id: str) -> Storage:
        return destination_storage(destination, dest_aws_conn_id, self.dest_hook_factory)


def destination_storage(destination: Destination, dest_aws_conn_id: str, hook_factory: HookFactory) -> Storage:
    """The destination's storage: a local folder, or an S3 prefix written with the ``dest_aws_conn_id`` connection."""
    return open_storage(destination, None if destination.is_local else hook_factory(dest_aws_conn_id))


def open_destination(destination: str, dest_aws_conn_id: str, hook_factory: HookFactory) -> Storage:
    """The storage of a destination given as the ``destination`` param is (a path, file:// or s3:// URL)."""
    return destination_storage(parse_destination(destination), dest_aws_conn_id, hook_factory)

"""The public bucket (``s3://stpubdata``), read through an S3Hook's client: always unsigned (see ``connections``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightcurve_ingest.settings import IO_CHUNK_BYTES, SOURCE_BUCKET


@dataclass(frozen=True)
class SourceObject:
    """What a HEAD of a source object says: its length and its ETag (without quotes)."""

    length: int
    etag: str


class SourceBucket:
    def __init__(self, hook: Any, bucket: str = SOURCE_BUCKET) -> None:
        self.hook = hook
        self.client = hook.get_conn()
        self.bucket = bucket
        self.endpoint = hook.conn_config.endpoint_url

    def head(self, key: str) -> SourceObject:
        head = self.client.head_object(Bucket=self.bucket, Key=key)
        return SourceObject(length=int(head["ContentLength"]), etag=head.get("ETag", "").strip('"'))

    def download(self, key: str, target: Path) -> int:
        """Stream one object into ``target`` (flushed to disk); returns the object's listed length."""
        response = self.client.get_object(Bucket=self.bucket, Key=key)
        length = int(response["ContentLength"])
        with open(target, "wb") as handle:
            for chunk in response["Body"].iter_chunks(IO_CHUNK_BYTES):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return length

"""The public bucket (``s3://stpubdata``), read through an S3Hook's client: always unsigned (see ``connections``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightcurve_ingest.settings import IO_CHUNK_BYTES, SOURCE_BUCKET


@dataclass(frozen=True)
class SourceObject:
    """What a HEAD of a source object says: its length and its ETag (without quotes)."""

    length: int
    etag: str


@dataclass(frozen=True)
class ListedObject:
    """One object as a listing (ListObjectsV2) gives it."""

    key: str
    size: int
    etag: str  # without quotes


class SourceBucket:
    def __init__(self, hook: Any, bucket: str = SOURCE_BUCKET) -> None:
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

    def list_objects(self, prefix: str) -> Iterator[ListedObject]:
        """Every object below ``prefix``, page by page (ListObjectsV2: 1,000 keys a request)."""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ListedObject(key=item["Key"], size=int(item["Size"]), etag=item.get("ETag", "").strip('"'))

    def list_folders(self, prefix: str) -> list[str]:
        """The folders (common prefixes, ending in ``/``) directly below ``prefix``."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix,
                                                                      Delimiter="/")
        return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]

    def holds_anything(self, prefix: str) -> bool:
        """Whether any object lies below ``prefix`` (one request, ``MaxKeys=1``)."""
        return self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0) > 0

"""fsspec filesystems over every provider, for pandas, pyarrow, Dask, xarray and zarr.

One class, and one protocol, per provider -- ``bb+local``, ``bb+memory``,
``bb+s3``, ``bb+az``, ``bb+gs``, ``bb+swift`` -- registered through the
``fsspec.specs`` entry point, so ``pd.read_parquet("bb+s3://bucket/key",
storage_options={"config": {...}})`` works once bucketbridge is installed.
They never take ``s3://`` and friends from s3fs, adlfs or gcsfs (one class
per protocol also keeps fsspec's per-protocol defaults apart).

Paths are ``bucket/key``; the root lists buckets. A "directory" is a key
prefix ending in ``/``: ``ls`` asks the server for one level where the
driver can (``ListsDirectories``), ``mkdir`` of a bucket creates it and
deeper ``mkdir`` does nothing (object stores hold no empty directories).

What bucketbridge promises holds underneath: a file opened for reading
reads ranges of the revision it saw at open, and a replaced object is
:class:`FileExpired` (an ``OSError``, ``ESTALE``), never mixed bytes; a
file written is stored whole at ``close()`` or not at all (an exception inside ``with``, or a file
dropped unclosed, aborts it); ``"xb"`` is create-only; ``sign`` is
``generate_url``. Nothing is cached: a listing after a write sees it.

A filesystem pickles as the arguments it was given (fsspec's
``__reduce__``), so each Dask worker resolves credentials itself from its
own environment and config file, and shares one provider per process.
"""

from .errors import FileExpired
from .files import BucketBridgeFile
from .filesystem import BucketBridgeFileSystem
from .protocols import (
    BBAzureFileSystem,
    BBGCSFileSystem,
    BBLocalFileSystem,
    BBMemoryFileSystem,
    BBS3FileSystem,
    BBSwiftFileSystem,
)

__all__ = [
    "BBAzureFileSystem",
    "BBGCSFileSystem",
    "BBLocalFileSystem",
    "BBMemoryFileSystem",
    "BBS3FileSystem",
    "BBSwiftFileSystem",
    "BucketBridgeFile",
    "BucketBridgeFileSystem",
    "FileExpired",
]

"""What the tests of copy/sync on a cluster (tests/dask, tests/ray) share:
LOCAL providers for the two ends, the digests of a bucket's objects to
compare them, and the progress callback that kills a worker process once it
has sent a whole part (importable on the workers, which run this checkout)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList

PART = 5 * 1024 * 1024


def local_provider(root: Path) -> CloudProvider:
    return CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})


def digests(provider: CloudProvider, bucket: str, prefix: str = "") -> dict[str, str]:
    """Each object's MD5 under ``prefix``, by its name below the prefix."""
    found = provider.storage.buckets.get(bucket)
    assert found is not None
    return {
        obj.name[len(prefix) :]: hashlib.md5(b"".join(obj.iter_content())).hexdigest()
        for obj in found.objects
        if obj.name.startswith(prefix)
    }


def die_after_a_part(sentinel: str, nbytes: int) -> None:
    """A progress callback: the first worker anywhere to send a whole part
    kills its process (``sentinel`` is created once), its multipart upload
    left open."""
    if nbytes < PART:
        return
    try:
        os.close(os.open(sentinel, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    os._exit(137)

"""The contenders every provider shares: bucketbridge on each data plane, obstore,
and the standard rows; plus filling a server and checking what was measured.

Each ``*_action(spec, ...)`` builds, untimed, the call a worker times for
``spec["scenario"]`` (see bench/harness.py for the spec's fields).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import (
    DATA_BUCKET,
    LIST_BUCKET,
    SMALL_BUCKET,
    SOURCE_KEY,
    Action,
    Failed,
    MiB,
    Row,
    Sizes,
    check_download,
    expect,
    in_pool,
    list_key,
    small_key,
    small_payload,
)

LEAN, SDK_PLANE = "bucketbridge lean", "bucketbridge sdk"
PLANES = {LEAN: "lean", SDK_PLANE: "sdk"}
SLICE = 1 * MiB  # obstore's best use here: <= 1 MiB pwrites (data-path.md)


def provider(server: dict[str, Any], data_plane: str | None) -> Any:
    from bucketbridge import CloudProviderFactory, ProviderList

    config = dict(server["config"])
    if data_plane is not None:
        config["data_plane"] = data_plane
    return CloudProviderFactory().create_provider(ProviderList(server["provider"]), config)


def bucketbridge_action(spec: dict[str, Any]) -> Action:
    """``bucketbridge lean`` / ``bucketbridge sdk`` / ``bucketbridge`` (local)."""
    scenario, key, path = spec["scenario"], spec["key"], spec["path"]
    made = provider(spec["server"], PLANES.get(spec["contender"]))
    storage = made.storage.buckets
    if scenario in ("download", "download-shm"):
        source = storage.get(DATA_BUCKET).objects.get(key)
        return lambda: source.download_to_file(path)
    if scenario == "upload":
        target = storage.get(DATA_BUCKET).objects.create(key)
        return lambda: target.upload_from_file(path)
    if scenario == "find":
        listed = storage.get(LIST_BUCKET)
        return lambda: expect(len(listed.objects.find(name=key)), 1)
    if scenario == "list":
        listed = storage.get(LIST_BUCKET)
        return lambda: expect(len(list(listed.objects)), spec["objects"], "keys")
    small = storage.get(SMALL_BUCKET)
    count, size = spec["small"], spec["small_size"]
    if scenario == "small-up":
        payloads = [small_payload(i, size) for i in range(count)]
        return lambda: in_pool(
            spec["width"],
            count,
            lambda i: small.objects.create(small_key(key, i)).upload(payloads[i]),
        )

    def read(index: int) -> None:
        handle = small.objects.create(small_key(key, index))
        expect(len(b"".join(handle.iter_content())), size, "bytes")

    return lambda: in_pool(spec["width"], count, read)


def obstore_action(spec: dict[str, Any], store: Callable[[str], Any]) -> Action:
    """obstore at its best use here: downloads streamed into <= 1 MiB pwrites."""
    import obstore

    scenario, key, path = spec["scenario"], spec["key"], spec["path"]
    if scenario in ("download", "download-shm"):
        data = store(DATA_BUCKET)

        def download() -> None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                offset = 0
                for chunk in obstore.get(data, key).stream(min_chunk_size=SLICE):
                    view = memoryview(chunk)
                    for start in range(0, len(view), SLICE):
                        offset += os.pwrite(fd, view[start : start + SLICE], offset)
            finally:
                os.close(fd)

        return download
    if scenario == "upload":
        data = store(DATA_BUCKET)
        return lambda: obstore.put(data, key, Path(path), chunk_size=16 * MiB, max_concurrency=8)
    if scenario == "find":
        listed = store(LIST_BUCKET)
        return lambda: obstore.head(listed, key)
    if scenario == "list":
        listed = store(LIST_BUCKET)
        return lambda: expect(
            sum(len(batch) for batch in obstore.list(listed, chunk_size=1000)),
            spec["objects"],
            "keys",
        )
    small = store(SMALL_BUCKET)
    count, size = spec["small"], spec["small_size"]
    if scenario == "small-up":
        payloads = [small_payload(i, size) for i in range(count)]
        return lambda: in_pool(
            spec["width"], count, lambda i: obstore.put(small, small_key(key, i), payloads[i])
        )
    return lambda: in_pool(
        spec["width"],
        count,
        lambda i: expect(len(obstore.get(small, small_key(key, i)).bytes()), size, "bytes"),
    )


def standard_rows(
    sizes: Sizes,
    sdk: str,
    *,
    planes: tuple[str, ...] = (LEAN, SDK_PLANE),
    physical: str = "curl",
    na: dict[tuple[str, str], str] | None = None,
    reference: str = "obstore",
) -> list[Row]:
    """The rows of issue 13's targets; ``na`` maps (scenario, contender) to
    why that peer cannot run it on this server."""
    na = na or {}
    peers = [*planes, "obstore", sdk]

    def row(scenario: str, contenders: list[str], ref: str, regime: str = "-") -> Row:
        reasons = {c: why for (s, c), why in na.items() if s == scenario and c in contenders}
        return Row(scenario, contenders, ref, regime, reasons)

    return [
        row("download", peers, reference, "warm"),
        row("download", peers, reference, "cold"),
        row("download-shm", [*planes, "obstore", physical], physical, "warm"),
        row("upload", peers, reference),
        row("find", peers, reference),
        row("list", peers, reference),
        row("small-up", peers, reference),
        row("small-down", peers, reference),
    ]


# --- filling the server, priming, checking (in the driver process) --------


def fill(server: dict[str, Any], source: Path, sizes: Sizes) -> None:
    """Store the download source, the listing and the small objects with
    bucketbridge's SDK plane (the long-standing path, whatever the lean plane
    of this checkout can do)."""
    made = provider(server, None if server["provider"] == "local" else "sdk")
    buckets = made.storage.buckets
    data, listed, small = (buckets.create(n) for n in (DATA_BUCKET, LIST_BUCKET, SMALL_BUCKET))
    data.objects.create(SOURCE_KEY).upload_from_file(str(source))
    in_pool(16, sizes.objects, lambda i: listed.objects.create(list_key(i)).upload(b"x"))
    in_pool(
        16,
        sizes.small,
        lambda i: small.objects.create(small_key("small", i)).upload(
            small_payload(i, sizes.small_size)
        ),
    )
    made.close()


def prime(spec: dict[str, Any]) -> None:
    """Read the download source once through the server (see regime.make_cold)."""
    server = spec["server"]
    made = provider(server, None if server["provider"] == "local" else "sdk")
    handle = made.storage.buckets.get(DATA_BUCKET).objects.get(SOURCE_KEY)
    for _ in handle.iter_content(8 * MiB):
        pass
    made.close()


def check(server: dict[str, Any], spec: dict[str, Any], source: Path) -> None:
    """Round 1: every download is the source byte for byte, every upload has
    its size, every small upload is there."""
    check_download(spec, source)
    if spec["scenario"] not in ("upload", "small-up"):
        return
    made = provider(server, None if server["provider"] == "local" else "sdk")
    if spec["scenario"] == "upload":
        stored = made.storage.buckets.get(DATA_BUCKET).objects.get(spec["key"])
        if stored is None or stored.size != source.stat().st_size:
            raise Failed(f"stored a wrong upload: {stored!r}")
    else:
        small = made.storage.buckets.get(SMALL_BUCKET)
        last = small.objects.get(small_key(spec["key"], spec["small"] - 1))
        if last is None or last.size != spec["small_size"]:
            raise Failed(f"small uploads missing: {last!r}")
    made.close()

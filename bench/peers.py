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
    BATCH_SOURCE,
    BATCHES,
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
from harness import local_root as batch_root

LEAN, SDK_PLANE = "bucketbridge lean", "bucketbridge sdk"


def _direct_io_default() -> bool:
    from bucketbridge.config import CORE_SETTINGS

    return bool(next(s.default for s in CORE_SETTINGS if s.name == "download_direct_io"))


# the lean plane with the other setting of ``download_direct_io``: the
# download rows show both, so the default follows a measurement (README.md)
OTHER_WRITES = "bucketbridge lean buffered" if _direct_io_default() else "bucketbridge lean direct"
PLANES = {LEAN: "lean", SDK_PLANE: "sdk", OTHER_WRITES: "lean"}
SLICE = 1 * MiB  # obstore's best use here: <= 1 MiB pwrites (data-path.md)


def provider(server: dict[str, Any], data_plane: str | None, *, other_writes: bool = False) -> Any:
    from bucketbridge import CloudProviderFactory, ProviderList

    config = dict(server["config"])
    if data_plane is not None:
        config["data_plane"] = data_plane
    if other_writes:
        config["download_direct_io"] = not _direct_io_default()
    return CloudProviderFactory().create_provider(ProviderList(server["provider"]), config)


def bucketbridge_action(spec: dict[str, Any]) -> Action:
    """``bucketbridge lean`` / ``bucketbridge sdk`` / ``bucketbridge`` (local)."""
    scenario, key, path = spec["scenario"], spec["key"], spec["path"]
    contender = spec["contender"]
    made = provider(spec["server"], PLANES.get(contender), other_writes=contender == OTHER_WRITES)
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
    if scenario in BATCHES:
        return _batch(spec, made)
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


def _local(root: str) -> Any:
    return provider({"provider": "local", "config": {"local_root": root}}, None)


def batch_size(spec: dict[str, Any]) -> int:
    """Objects per batch of copy(): about four batches per worker, so the
    workers stay busy to the end and each batch's set-up is paid rarely."""
    return max(1, -(-spec["small"] // (4 * spec["width"])))


def _batch(spec: dict[str, Any], made: Any) -> Action:
    """The library's concurrent batch path: ``bucketbridge.copy`` between a
    LOCAL bucket and the server, on a thread pool of the row's width."""
    from concurrent.futures import ThreadPoolExecutor

    from bucketbridge import Location, copy

    local = _local(spec["local_root"])
    if spec["scenario"] == "batch-up":
        source = Location(local, BATCH_SOURCE, "small/")
        target = Location(made, SMALL_BUCKET, spec["key"] + "/")
    else:
        local.storage.buckets.create(spec["key"])
        source = Location(made, SMALL_BUCKET, "small/")
        target = Location(local, spec["key"])

    def run() -> None:
        with ThreadPoolExecutor(spec["width"], "bench-batch") as pool:
            report = copy(source, target, executor=pool, batch_objects=batch_size(spec))
        report.raise_for_failures()
        expect(report.copied, spec["small"], "objects copied")

    return run


def obstore_client_options(server: dict[str, Any]) -> dict[str, Any]:
    """obstore's client options for the bench server: over ``--tls``, the
    run's CA as a root it trusts (certificates verified, as every other
    contender's are: harness.tls_environment), or no check at all where the
    script's other contenders make none (``tls_verify`` False); else plain
    http allowed."""
    if not server["endpoint"].startswith("https:"):
        return {"allow_http": True}
    if not server.get("tls_verify", True):
        return {"allow_invalid_certificates": True}
    return {"root_certificate": Path(server["ca_file"]).read_text()}


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
    if scenario in BATCHES:
        return _obstore_batch(spec, small)
    return lambda: in_pool(
        spec["width"],
        count,
        lambda i: expect(len(obstore.get(small, small_key(key, i)).bytes()), size, "bytes"),
    )


def _obstore_batch(spec: dict[str, Any], small: Any) -> Action:
    """The batch rows' peer: obstore driven by a thread pool of the same width,
    reading the LOCAL bucket's files (batch-up) or writing files into a
    new directory (batch-down), each file read or written whole. Like the
    library's ``copy()``, it finds what to copy itself -- the source
    directory's names (batch-up), a listing of the prefix (batch-down) --
    rather than being handed the 2,000 names: the row is copying a prefix."""
    import obstore

    root, key, count = Path(spec["local_root"]), spec["key"], spec["small"]
    if spec["scenario"] == "batch-up":
        files = root / BATCH_SOURCE / "small"

        def up() -> None:
            names = os.listdir(files)

            def put(index: int) -> None:
                name = names[index]
                obstore.put(small, f"{key}/{name}", (files / name).read_bytes())

            in_pool(spec["width"], len(names), put)
            expect(len(names), count, "files")

        return up
    target = root / key

    def run() -> None:
        listed = [
            meta["path"]
            for batch in obstore.list(small, prefix="small/", chunk_size=1000)
            for meta in batch
        ]
        expect(len(listed), count, "keys")
        target.mkdir(parents=True, exist_ok=True)

        def down(index: int) -> None:
            name = listed[index]
            data = obstore.get(small, name).bytes()
            (target / name.split("/", 1)[1]).write_bytes(data)

        in_pool(spec["width"], count, down)

    return run


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

    writes = [OTHER_WRITES] if LEAN in planes else []
    # copy() between a LOCAL bucket and the server: not a row of the LOCAL bench
    batches = BATCHES if LEAN in planes else ()
    return [
        row("download", [*peers[:1], *writes, *peers[1:]], reference, "warm"),
        row("download", [*peers[:1], *writes, *peers[1:]], reference, "cold"),
        row("download-shm", [*planes, "obstore", physical], physical, "warm"),
        row("upload", peers, reference),
        row("find", peers, reference),
        row("list", peers, reference),
        row("small-up", peers, reference),
        row("small-down", peers, reference),
        # issue 13 names obstore as the batch rows' peer, on every provider
        *(row(scenario, [*planes, "obstore"], "obstore") for scenario in batches),
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
    if server["provider"] != "local":  # the batch rows' LOCAL source: the same small objects
        root = batch_root(source.parent)
        root.mkdir(exist_ok=True)
        local = _local(str(root))
        batch = local.storage.buckets.create(BATCH_SOURCE)
        for index in range(sizes.small):
            name = small_key("small", index)
            batch.objects.create(name).upload(small_payload(index, sizes.small_size))
        local.close()


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
    if spec["scenario"] == "batch-down":
        copied = sorted((Path(spec["local_root"]) / spec["key"]).iterdir())
        if len(copied) != spec["small"] or copied[-1].read_bytes() != small_payload(
            spec["small"] - 1, spec["small_size"]
        ):
            raise Failed(f"batch download left {len(copied)} files, or wrong bytes")
        return
    if spec["scenario"] not in ("upload", "small-up", "batch-up"):
        return
    made = provider(server, None if server["provider"] == "local" else "sdk")
    if spec["scenario"] == "upload":
        stored = made.storage.buckets.get(DATA_BUCKET).objects.get(spec["key"])
        if stored is None or stored.size != source.stat().st_size:
            raise Failed(f"stored a wrong upload: {stored!r}")
    else:  # small-up, batch-up: the last object, whole
        small = made.storage.buckets.get(SMALL_BUCKET)
        last = small.objects.get(small_key(spec["key"], spec["small"] - 1))
        wanted = small_payload(spec["small"] - 1, spec["small_size"])
        if last is None or b"".join(last.iter_content()) != wanted:
            raise Failed(f"small uploads missing or wrong: {last!r}")
    made.close()

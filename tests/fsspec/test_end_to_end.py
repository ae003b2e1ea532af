"""The bb+ filesystems as their users reach them: pandas, pyarrow, Dask and
zarr, on every backend; and bucketbridge's promises seen through fsspec
(revision-pinned reads, atomic writes, create-only, no stale listings)."""

from __future__ import annotations

import gc
import pickle
import warnings

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import zarr

from bucketbridge import CloudProviderFactory
from bucketbridge.fsspec import BucketBridgeFile, BucketBridgeFileSystem, FileExpired

MiB = 1024 * 1024


def _url(fs: BucketBridgeFileSystem, path: str) -> str:
    return f"{fs.protocol}://{path}"


def _options(fs: BucketBridgeFileSystem) -> dict[str, object]:
    return {"config": fs.storage_options["config"]}


def test_pandas_csv_and_parquet_round_trip(bb_fs: BucketBridgeFileSystem, bb_bucket: str) -> None:
    frame = pd.DataFrame({"n": range(1000), "word": [f"w{i}é" for i in range(1000)]})
    for name, write, read in [
        ("t.csv", frame.to_csv, pd.read_csv),
        ("t.parquet", frame.to_parquet, pd.read_parquet),
    ]:
        url = _url(bb_fs, f"{bb_bucket}/{name}")
        if name.endswith(".csv"):
            write(url, index=False, storage_options=_options(bb_fs))
        else:
            write(url, storage_options=_options(bb_fs))
        pd.testing.assert_frame_equal(read(url, storage_options=_options(bb_fs)), frame)


def test_pyarrow_partitioned_dataset_reads_only_the_projected_columns(
    bb_fs: BucketBridgeFileSystem, bb_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = 300_000
    noise = np.random.default_rng(7).bytes(32 * rows).hex()
    table = pa.table(
        {
            "part": [i % 2 for i in range(rows)],
            "small": list(range(rows)),
            # incompressible, so it is most of each file's bytes
            "wide": [noise[64 * i : 64 * (i + 1)] for i in range(rows)],
        }
    )
    root = f"{bb_bucket}/dataset"
    pq.write_to_dataset(table, root, partition_cols=["part"], filesystem=bb_fs)
    sizes = sum(bb_fs.info(path)["size"] for path in bb_fs.find(f"{root}/part=1"))
    fetched: list[int] = []
    original = BucketBridgeFile._fetch_range

    def counting(self: BucketBridgeFile, start: int, end: int) -> bytes:
        data = original(self, start, end)
        fetched.append(len(data))
        return data

    monkeypatch.setattr(BucketBridgeFile, "_fetch_range", counting)
    dataset = ds.dataset(root, filesystem=bb_fs, partitioning="hive", format="parquet")
    result = dataset.to_table(columns=["small"], filter=ds.field("part") == 1)
    assert sorted(result.column("small").to_pylist()) == list(range(1, rows, 2))
    # ranged reads: the small column's chunks and the footers, never the
    # wide column (fsspec's own read-ahead cache fetched 96% of the file)
    assert 0 < sum(fetched) < 0.2 * sizes


def test_dask_dataframe_write_and_read(bb_fs: BucketBridgeFileSystem, bb_bucket: str) -> None:
    frame = pd.DataFrame({"k": range(600), "v": [i * 0.5 for i in range(600)]})
    url = _url(bb_fs, f"{bb_bucket}/dask-out")
    dd.from_pandas(frame, npartitions=3).to_parquet(url, storage_options=_options(bb_fs))
    back = dd.read_parquet(url, storage_options=_options(bb_fs)).compute()
    pd.testing.assert_frame_equal(back.sort_values("k").reset_index(drop=True), frame)


def test_zarr_array_round_trip(bb_fs: BucketBridgeFileSystem, bb_bucket: str) -> None:
    store = zarr.storage.FsspecStore.from_url(
        _url(bb_fs, f"{bb_bucket}/array.zarr"), storage_options=_options(bb_fs), read_only=False
    )
    data = np.arange(10_000, dtype="int32").reshape(100, 100)
    array = zarr.create_array(store=store, shape=data.shape, chunks=(25, 25), dtype="int32")
    array[:] = data
    reopened = zarr.open_array(store=store, mode="r")
    np.testing.assert_array_equal(reopened[:], data)


def test_the_filesystem_pickles_as_what_the_user_gave(
    bb_fs: BucketBridgeFileSystem, bb_bucket: str
) -> None:
    bb_fs.pipe(f"{bb_bucket}/p.txt", b"pickled")
    clone = pickle.loads(pickle.dumps(bb_fs))
    assert clone.cat(f"{bb_bucket}/p.txt") == b"pickled"
    assert clone.storage_options == bb_fs.storage_options


def test_a_reader_never_mixes_two_versions(bb_fs: BucketBridgeFileSystem, bb_bucket: str) -> None:
    path = f"{bb_bucket}/changing.bin"
    bb_fs.pipe(path, b"a" * (6 * MiB))
    with bb_fs.open(path, "rb", block_size=5 * MiB, cache_type="none") as reader:
        assert reader.read(MiB) == b"a" * MiB
        bb_fs.pipe(path, b"b" * (6 * MiB))
        with pytest.raises(FileExpired):
            reader.read()
    assert bb_fs.cat(path) == b"b" * (6 * MiB)


def test_writes_are_whole_or_nothing(bb_fs: BucketBridgeFileSystem, bb_bucket: str) -> None:
    path = f"{bb_bucket}/atomic.bin"
    with pytest.raises(RuntimeError), bb_fs.open(path, "wb", block_size=5 * MiB) as writer:
        writer.write(b"x" * (11 * MiB))  # two parts went up already
        raise RuntimeError("the writer failed")
    assert not bb_fs.exists(path)
    writer = bb_fs.open(path, "wb")
    writer.write(b"dropped")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del writer
        gc.collect()
    assert not bb_fs.exists(path)
    provider = bb_fs._provider
    bucket = provider.storage.buckets.get(bb_bucket)
    assert bucket is not None and list(bucket.objects.incomplete_uploads()) == []
    with bb_fs.open(path, "wb", block_size=5 * MiB) as writer:
        writer.write(b"y" * (11 * MiB))
    assert bb_fs.cat(path) == b"y" * (11 * MiB)


def test_create_only_and_listings_after_writes(
    bb_fs: BucketBridgeFileSystem, bb_bucket: str
) -> None:
    path = f"{bb_bucket}/dir/once.txt"
    with bb_fs.open(path, "xb") as writer:
        writer.write(b"first")
    with pytest.raises(FileExistsError):
        bb_fs.open(path, "xb")
    with pytest.raises(FileExistsError):
        bb_fs.pipe(path, b"second", mode="create")
    assert bb_fs.ls(f"{bb_bucket}/dir", detail=False) == [path]
    bb_fs.rm(path)
    assert bb_fs.ls(bb_bucket, detail=False) == []  # nothing cached: the delete shows
    assert not bb_fs.exists(path)


def test_ls_one_level_and_find_everything(bb_fs: BucketBridgeFileSystem, bb_bucket: str) -> None:
    for key in ["a.txt", "d/b.txt", "d/e/c.txt", "d.txt", "d0"]:
        bb_fs.pipe(f"{bb_bucket}/{key}", key.encode())
    listed = bb_fs.ls(bb_bucket, detail=True)
    assert sorted((e["name"], e["type"]) for e in listed) == [
        (f"{bb_bucket}/a.txt", "file"),
        (f"{bb_bucket}/d", "directory"),
        (f"{bb_bucket}/d.txt", "file"),
        (f"{bb_bucket}/d0", "file"),
    ]
    assert sorted(bb_fs.ls(f"{bb_bucket}/d", detail=False)) == [
        f"{bb_bucket}/d/b.txt",
        f"{bb_bucket}/d/e",
    ]
    assert bb_fs.find(bb_bucket) == [
        f"{bb_bucket}/{k}" for k in ["a.txt", "d.txt", "d/b.txt", "d/e/c.txt", "d0"]
    ]
    assert bb_fs.info(f"{bb_bucket}/d/e")["type"] == "directory"
    with pytest.raises(FileNotFoundError):
        bb_fs.info(f"{bb_bucket}/nothing")


def test_a_provider_is_named_or_refused() -> None:
    from bucketbridge import InvalidValueException

    with pytest.raises(InvalidValueException, match="provider"):
        BucketBridgeFileSystem(config={})
    assert CloudProviderFactory  # the factory stays the way to make providers directly

"""The bench scripts still run end to end, so bench/ cannot rot silently.

Not a speed test: nothing here reads a figure. The LOCAL script runs every
row in ``--quick`` mode; S3 on SeaweedFS runs the rows that exercise the
harness's moving parts against a server (a cold-regime download checked
byte for byte by every contender, curl as an external command into
/dev/shm); GCS runs two rows over https (``--tls``); the server scripts
not started here are checked for their rows (``--list-rows``: imports,
rows, n/a reasons). bench/README.md says how to
run them all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def rows_of(markdown: str) -> dict[tuple[str, str], list[str]]:
    """(row, contender) -> the table's cells, from ``--markdown`` output."""
    found = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 8 and " — ref " in cells[0]:
            found[(cells[0].split(" — ref ")[0], cells[1].strip("*"))] = cells
    return found


def test_local_runs_every_row_quickly() -> None:
    table = rows_of(run("bench_local.py", "--quick", "--markdown"))
    for row in ("download (warm)", "download (cold)", "download-shm (warm)", "upload"):
        for contender in ("bucketbridge", "obstore", "cp"):
            assert table[(row, contender)][2].endswith(" s"), (row, contender)
    for row in ("find", "list", "small-up", "small-down"):
        assert table[(row, "obstore")][4] == "1.00x"  # the reference, measured in the same run
        assert table[(row, "bucketbridge")][4].endswith("x")
    assert "cold (caches not dropped; not settled)" in table[("download (cold)", "cp")][7]


def batch_roots() -> set[Path]:
    """The batch rows' LOCAL roots on tmpfs (bench/harness.local_root)."""
    return set(Path("/dev/shm").glob("bench-*-batch-local"))


def test_s3_rows_run_on_seaweedfs() -> None:
    before = batch_roots()
    output = run(
        "bench_s3.py",
        "--quick",
        "--markdown",
        "--scenarios=download,download-shm,batch-up,batch-down",
        "--regimes=cold",
        "--objects=10",
        "--small=4",
    )
    table = rows_of(output)
    for contender in ("bucketbridge lean", "bucketbridge sdk", "obstore", "boto3"):
        assert table[("download (cold)", contender)][3].endswith("MiB/s")
        assert table[("download (cold)", contender)][5].endswith("CPU-s")
    assert table[("download-shm (warm)", "curl")][4] == "1.00x"
    for row in ("batch-up", "batch-down"):  # bucketbridge.copy() to and from a LOCAL bucket
        assert table[(row, "obstore")][4] == "1.00x"
        assert table[(row, "bucketbridge lean")][3].endswith("objects/s")
    assert "SeaweedFS" in output and "obstore 0." in output
    # issue 13's targets, each beside what was measured
    targets = [line for line in output.splitlines() if line.startswith("| download (cold): >=")]
    assert len(targets) == 1 and targets[0].endswith(("| met |", "| missed |")), targets
    assert any(line.startswith("| batch-down: >= 1.0x obstore |") for line in output.splitlines())
    # the batch rows' files on tmpfs, out of the work directory, and gone after the run
    assert "the batch rows' LOCAL files on tmpfs" in output
    assert batch_roots() == before


def test_gcs_rows_run_over_tls() -> None:
    """``--tls``: fake-gcs-server serves https with a CA made for the run,
    and every contender reaches it verifying the certificate."""
    output = run(
        "bench_gcs.py",
        "--quick",
        "--markdown",
        "--tls",
        "--scenarios=find,batch-down",
        "--objects=10",
        "--small=4",
    )
    assert "over https (TLS with a test CA made for the run; every contender verifies" in output
    table = rows_of(output)
    for contender in ("bucketbridge lean", "bucketbridge sdk", "obstore", "google-cloud-storage"):
        assert table[("find", contender)][5].endswith("CPU-µs/call"), contender
    assert table[("batch-down", "obstore")][4] == "1.00x"
    assert table[("batch-down", "bucketbridge lean")][3].endswith("objects/s")


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            "bench_azure.py",
            "download (cold): bucketbridge lean, bucketbridge lean buffered, bucketbridge sdk,",
        ),
        ("bench_gcs.py", "upload: bucketbridge lean, bucketbridge sdk, obstore,"),
        ("bench_swift.py", "obstore: n/a (obstore has no Swift store)"),
        (
            "bench_sync.py",
            "dask-2, bucketbridge ray-2, bucketbridge ray-actors-2, rclone, s5cmd vs rclone",
        ),
    ],
)
def test_server_scripts_declare_their_rows(script: str, expected: str) -> None:
    assert expected in run(script, "--list-rows")


BROKEN = """
import sys
sys.path.insert(0, {bench!r})
import bench_local, harness
real = bench_local.make_action
def broken(spec):
    if spec["contender"] == "obstore":
        raise RuntimeError("a driver mid-way through a change")
    if spec["contender"] == "cp":
        return harness.External(["true"])  # "succeeds" and leaves no file
    return real(spec)
bench_local.BENCH.make_action = broken
harness.main(bench_local.BENCH, sys.argv[1:])
"""


def test_a_failing_contender_is_a_failed_cell_not_a_lost_table(tmp_path: Path) -> None:
    script = tmp_path / "bench_broken.py"
    script.write_text(BROKEN.format(bench=str(BENCH)))
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--markdown", "--scenarios=download-shm"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=BENCH.parent,
    )
    assert done.returncode == 3, done.stderr[-3000:]
    table = rows_of(done.stdout)
    assert table[("download-shm (warm)", "bucketbridge")][2].endswith(" s")
    assert table[("download-shm (warm)", "bucketbridge")][4] == "-"  # no reference to divide by
    assert table[("download-shm (warm)", "obstore")][2:] == [
        "failed", "", "", "", "", "exit 1: RuntimeError: a driver mid-way through a change"
    ]  # fmt: skip
    assert table[("download-shm (warm)", "cp")][7].startswith("left no file at ")

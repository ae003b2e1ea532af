"""System calls per small object of the LOCAL provider, counted with strace.

    python bench/local_syscalls.py            # 1,000 x 4 KiB: write, overwrite, read, list
    python bench/local_syscalls.py --count 200 --source /another/checkout

Each phase runs in a process of its own under ``strace -f -c``; a run of the
same phase with no objects is subtracted, which leaves what the objects cost
(one thread: the count is the library's, not the scheduler's). A count, not
a time: it does not move with the machine's load, unlike the benchmark rows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
CHILD = """
import sys
sys.path.insert(0, {source!r})
from bucketbridge import CloudProviderFactory, ProviderList
root, phase, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
provider = CloudProviderFactory().create_provider(ProviderList.LOCAL, {{"local_root": root}})
bucket = provider.storage.buckets.get("small") or provider.storage.buckets.create("small")
payload = bytes(4096)
if phase == "list":  # the whole bucket listed once: the objects, or the one made first
    listed = sum(1 for _ in bucket.objects)
    assert listed == max(count, 1), listed
    raise SystemExit
for index in range(count):
    obj = bucket.objects.create(f"small/{{index:05d}}.dat")
    if phase == "read":
        assert len(b"".join(obj.iter_content())) == 4096
    else:
        obj.upload(payload)
"""


def _strace(script: Path, root: Path, phase: str, count: int, out: Path) -> dict[str, int]:
    command = [sys.executable, str(script), str(root), phase, str(count)]
    subprocess.run(["strace", "-f", "-c", "-o", str(out), *command], check=True)
    return strace_counts(out)


def strace_counts(out: Path) -> dict[str, int]:
    """System call -> count, from the summary ``strace -c -o out`` wrote."""
    calls: dict[str, int] = {}
    for line in out.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--source", default=str(SOURCE), help="the checkout to measure")
    options = parser.parse_args()
    count = options.count
    with tempfile.TemporaryDirectory() as work:
        script = Path(work, "child.py")
        script.write_text(CHILD.format(source=options.source))
        empty, root = Path(work, "empty"), Path(work, "root")
        # both roots hold the bucket and its directories already
        for where in (empty, root):
            subprocess.run([sys.executable, str(script), str(where), "write", "1"], check=True)
        phases = (("write", "write"), ("write", "overwrite"), ("read", "read"), ("list", "list"))
        for phase, label in phases:
            base = _strace(script, empty, phase, 0, Path(work, "base"))
            run = _strace(script, root, phase, count, Path(work, "run"))
            per = {k: (run.get(k, 0) - base.get(k, 0)) / count for k in base.keys() | run.keys()}
            shown = sorted(((v, k) for k, v in per.items() if abs(v) >= 0.05), reverse=True)
            total = sum(v for v, _ in shown)
            print(
                f"{label:9} {total:5.1f} syscalls/object: "
                + ", ".join(f"{k} {v:.1f}" for v, k in shown)
            )


if __name__ == "__main__":
    main()

"""The whole results table for bench/results.md: every provider's rows, one after another.

    python bench/report.py --rounds 3 --contenders targets \
        --budget-minutes 28 > bench/results.md                 # the report run (<= ~40 min)
    python bench/report.py > bench/results.md                  # every contender, 5 rounds
    python bench/report.py --providers s3,azure --rounds 3     # some providers
    python bench/report.py --quick                             # every script, smoke sizes

Runs the page-cache probe (bench/regime.py) first, so the table says whether
the warm and cold regimes differed on the machine at the time, then each
provider's script with ``--markdown`` (and the options given after the
known ones, e.g. ``--rounds 3``), each printed as soon as it is done, so a
run cut short keeps what it finished; ``--budget-minutes`` starts no
provider once that much time is spent. Progress goes to stderr. A provider whose
server cannot start here gets a line saying so, and a contender that
fails is a "failed" cell in its provider's table, not a lost report.
Swift needs ``SWIFT_VENV`` (bench/README.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import datetime, timezone

import harness
import regime

PROVIDERS = ("local", "s3", "azure", "gcs", "swift")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--probe-rounds", type=int, default=3, help="regime probe rounds (0: none)")
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=0,
        help="start no provider after this many minutes (0: no limit)",
    )
    options, passed = parser.parse_known_args()
    providers = [p for p in options.providers.split(",") if p]
    if set(providers) - set(PROVIDERS):
        parser.error(f"choose providers from {PROVIDERS}")
    started = time.monotonic()
    # each part is printed as soon as it is measured: a run cut short still
    # leaves the providers it finished in results.md
    emit(
        "# Benchmarks: issue 13's rows on every provider",
        "",
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `python bench/report.py"
        f"{' --quick' if options.quick else ''}{''.join(' ' + a for a in passed)}`"
        f" on {harness.machine()}; what each row means: bench/README.md.",
        "",
    )
    if options.probe_rounds and not options.quick:
        print("regime probe ...", file=sys.stderr, flush=True)
        probe = regime.probe(512 * harness.MiB, options.probe_rounds, None, drop=True)
        emit("Page-cache regimes at the start (bench/regime.py):", "", "```", probe, "```", "")
    for name in providers:
        spent = (time.monotonic() - started) / 60
        if options.budget_minutes and spent > options.budget_minutes:
            budget = f"{spent:.0f} min spent of the {options.budget_minutes:g} min budget"
            emit(f"### {name}", "", f"not run: {budget} (`--budget-minutes`)", "")
            continue
        script = harness.BENCH / f"bench_{name}.py"
        command = [sys.executable, str(script), "--markdown", *passed]
        if options.quick:
            command.append("--quick")
        print(f"{name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=harness.ROOT)
        if done.stdout.strip():
            emit(done.stdout.strip(), "")
            if done.returncode != 0:  # the table is there; some contender failed in it
                emit(f"(`{script.name}` exited {done.returncode}: see its failed rows)", "")
            continue
        emit(f"### {name}", "", f"not run: `{script.name}` exited {done.returncode}")
        emit("(its error went to stderr)", "")
    emit(f"All rows took {(time.monotonic() - started) / 60:.0f} min.")


def emit(*lines: str) -> None:
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()

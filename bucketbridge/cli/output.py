"""Progress and results on the terminal.

A bar (bytes, throughput, ETA; file counts for many objects) shows only when
stderr is a terminal and ``--quiet`` is not given: piped or in a script the
command prints nothing but its results. tqdm draws it, imported only then,
so a command in a pipe never pays for it.

The meter is also where an interrupt reaches the worker threads: transfers
call it as bytes move, and once Ctrl-C or SIGTERM set :data:`cancelled`,
the call raises, so that transfer aborts what it started and its thread
comes back (the main thread is already unwinding).
"""

from __future__ import annotations

import json
import sys
import threading
from json.encoder import encode_basestring_ascii as quoted  # dumps's own (C)
from types import TracebackType
from typing import Any

cancelled = threading.Event()


class Cancelled(Exception):
    """Raised in a worker whose command was interrupted."""

    def __init__(self) -> None:
        super().__init__("interrupted")


class Meter:
    def __init__(
        self, label: str, total: int | None, *, counts: bool = False, quiet: bool = False
    ) -> None:
        self._lock = threading.Lock()
        self.objects = 0
        self._bar: Any = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )
        self._counts = counts

    def __call__(self, nbytes: int) -> None:
        """Bytes moved (from any thread)."""
        if cancelled.is_set():
            raise Cancelled()
        if self._bar is not None:
            with self._lock:
                self._bar.update(nbytes)

    def object_done(self, name: str) -> None:
        if cancelled.is_set():
            raise Cancelled()
        with self._lock:
            self.objects += 1
            if self._bar is not None and self._counts:
                self._bar.set_postfix_str(f"{self.objects} files", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Meter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def out(text: str) -> None:
    sys.stdout.write(text + "\n")


def out_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str) + "\n")


def json_value(value: object) -> str:
    """``json.dumps(value, default=str)``, the common cases without the
    call (``ls --json`` formats four values a key)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int.__repr__(value)  # as json's encoder spells an int
    return json.dumps(value, default=str)


def json_object(fields: dict[str, object]) -> str:
    """``json.dumps(fields, default=str)``, by :func:`json_value`."""
    return (
        "{"
        + ", ".join(f"{quoted(key)}: {json_value(value)}" for key, value in fields.items())
        + "}"
    )


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"

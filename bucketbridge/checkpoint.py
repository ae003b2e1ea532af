"""A copy/sync checkpoint: the key ranges whose batches finished, one JSON line each.

The coordinator cuts the merge-joined listing into batches in key order, so
each batch covers a range of source names, ``(after, last]``: every source
object in it was copied, or found unchanged, when the batch finished without
a failure. Those ranges are appended here as they finish (in any order; each
line is flushed and fsynced), so a coordinator killed mid-run and started
again with the same file skips them and redoes only what was unfinished --
however the new run happens to cut its batches, since a range is a range of
names, not a batch number.

The first line names the run (source, destination, overwrite rule; never a
config, which may hold secrets); a file of another run is refused. A last line
cut off by the kill is ignored. The file is removed when a run ends with
every object done, so the next run starts afresh.
"""

from __future__ import annotations

import bisect
import json
import os
from typing import Any

from .errors import InvalidValueException

FORMAT = 1


class Checkpoint:
    """The finished ranges of one run, read from ``path`` and appended to it."""

    def __init__(self, path: str | os.PathLike[str], run: dict[str, Any]) -> None:
        self.path = os.fspath(path)
        header = {"bucketbridge_sync_checkpoint": FORMAT, **run}
        self._starts: list[str] = []  # sorted range starts ("" for "from the first name")
        self._ends: list[str] = []
        lines = _read_lines(self.path)
        if lines:
            if lines[0] != header:
                raise InvalidValueException(
                    "checkpoint",
                    self.path,
                    f"records another run ({_describe(lines[0])}), not {_describe(header)}",
                )
            for record in lines[1:]:
                self._add(record.get("after"), record["last"])
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        if not lines:
            self._append(header)

    def _add(self, after: str | None, last: str) -> None:
        """Add ``(after, last]``, merged with the ranges it overlaps or
        touches, so the ranges stay disjoint and few (finished batches meet)."""
        start = "" if after is None else after  # "": before every name
        index = bisect.bisect_left(self._starts, start)
        self._starts.insert(index, start)
        self._ends.insert(index, last)
        merged_starts: list[str] = []
        merged_ends: list[str] = []
        for begin, end in zip(self._starts, self._ends, strict=True):
            if merged_ends and (begin == "" or begin <= merged_ends[-1]):
                merged_ends[-1] = max(merged_ends[-1], end)
            else:
                merged_starts.append(begin)
                merged_ends.append(end)
        self._starts, self._ends = merged_starts, merged_ends

    def finished(self, name: str) -> bool:
        """Whether ``name`` lies in a range a run already finished."""
        index = bisect.bisect_left(self._starts, name) - 1  # the last range starting before it
        return index >= 0 and name <= self._ends[index]

    def record(self, after: str | None, last: str, objects: int) -> None:
        """The batch covering ``(after, last]`` finished without a failure."""
        self._add(after, last)
        self._append({"after": after, "last": last, "objects": objects})

    def _append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self, *, done: bool) -> None:
        """Close the file; remove it if the run is done (nothing to resume)."""
        self._file.close()
        if done:
            os.unlink(self.path)


def _read_lines(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise InvalidValueException("checkpoint", path, f"cannot be read: {error}") from error
    records: list[dict[str, Any]] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number >= len(lines) - 1:  # the last line, cut off by a kill
                break
            raise InvalidValueException(
                "checkpoint", path, f"line {number} is not JSON: {line[:80]!r}"
            ) from None
        if not isinstance(record, dict) or (records and not isinstance(record.get("last"), str)):
            raise InvalidValueException("checkpoint", path, f"line {number}: {line[:80]!r}")
        records.append(record)
    return records


def _describe(header: dict[str, Any]) -> str:
    return f"{header.get('source')} -> {header.get('destination')}"

"""The command line's grammar: subcommands, their options, and the options
every subcommand takes (given before or after the subcommand's name)."""

from __future__ import annotations

import argparse
import re

from .exits import EPILOG

SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def size(text: str) -> int:
    """``16M``, ``16MiB``, ``8388608``: bytes (binary units)."""
    match = SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 16M, 64MiB, 8388608)")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * UNITS[unit]


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _common(defaults: bool) -> argparse.ArgumentParser:
    """The options of every command. Under a subcommand they default to
    SUPPRESS, so ``bucketbridge -q cp`` and ``bucketbridge cp -q`` agree."""
    common = argparse.ArgumentParser(
        add_help=False, argument_default=None if defaults else argparse.SUPPRESS
    )
    group = common.add_argument_group("common options")
    group.add_argument(
        "--profile",
        metavar="NAME",
        help="settings of [profile NAME] in the config file, for the addresses of its"
        " provider only (provider = aws: s3://); other addresses keep their own settings",
    )
    group.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each request (method, address, status, time)",
    )
    group.add_argument("--debug", action="store_true", help="print tracebacks; log at DEBUG")
    group.add_argument(
        "--jobs",
        "-j",
        type=positive,
        metavar="N",
        help="large objects in flight at once (8; small ones: 4x as many)",
    )
    group.add_argument("--part-size", type=size, metavar="SIZE", help="multipart part size (16M)")
    group.add_argument(
        "--concurrency", type=positive, metavar="N", help="parts in flight per object (8)"
    )
    if defaults:
        common.set_defaults(
            profile=None,
            quiet=False,
            verbose=False,
            debug=False,
            jobs=8,
            part_size=None,
            concurrency=None,
        )
    return common


class _Version(argparse.Action):
    """``--version``, looked up only when asked (importlib.metadata is a
    tenth of a second of every start otherwise)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        import bucketbridge

        print(f"bucketbridge {bucketbridge.__version__}")
        parser.exit()


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    """Where a ``-r`` copy or a sync between object prefixes runs its
    batches (this process lists, plans and shows progress)."""
    group = parser.add_argument_group("running on a cluster (between object prefixes)")
    group.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="the batches run on the Dask cluster of this scheduler (tcp://host:8786)",
    )
    group.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="the batches run as Ray tasks on this cluster (auto, ray://host:10001, local)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bucketbridge",
        description="One object-storage API over every cloud: move and list data on"
        " local://, s3://, az://, gs:// and swift://.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(True)],
    )
    parser.add_argument("--version", action=_Version)
    common = _common(False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, parents=[common])

    ls = command("ls", "list buckets (ls s3://) or objects (ls s3://bucket/prefix)")
    ls.add_argument(
        "url", nargs="?", help="default: the buckets of --profile's provider, or local://"
    )
    ls.add_argument("-l", "--long", action="store_true", help="size, modified time, etag")
    ls.add_argument("-r", "--recursive", action="store_true", help="every object below")
    ls.add_argument("--json", action="store_true", help="one JSON object a line")

    command("mb", "make a bucket").add_argument("url")
    rb = command("rb", "remove a bucket")
    rb.add_argument("url")
    rb.add_argument("--force", action="store_true", help="its objects and open uploads too")

    for name, help in (
        ("cp", "copy a file, stdin (-), object or (-r) directory or prefix"),
        ("mv", "copy, then delete the source once the copy is whole"),
    ):
        cp = command(name, help)
        cp.add_argument("src")
        cp.add_argument("dst")
        cp.add_argument("-r", "--recursive", action="store_true", help="directories and prefixes")
        cp.add_argument("--content-type", help="of the objects written")
        cp.add_argument(
            "--metadata", action="append", metavar="KEY=VALUE", help="of the objects written"
        )

    command("cat", "write an object to stdout").add_argument("url")
    rm = command("rm", "remove an object (or, with -r, every object under a prefix)")
    rm.add_argument("url")
    rm.add_argument("-r", "--recursive", action="store_true")
    stat = command("stat", "an object's size, time, etag, type and metadata")
    stat.add_argument("url")
    stat.add_argument("--json", action="store_true")
    url = command("url", "a signed URL for an object")
    url.add_argument("url")
    url.add_argument("--expires", type=positive, default=3600, metavar="SECONDS")
    url.add_argument("--writable", action="store_true", help="a PUT URL instead of a GET URL")

    sync = command("sync", "make DST hold what SRC holds (missing or different objects)")
    sync.add_argument("src")
    sync.add_argument("dst")
    sync.add_argument("--delete", action="store_true", help="remove what SRC lacks from DST")
    sync.add_argument("--dry-run", action="store_true", help="print what would be done")
    for name in ("cp", "mv", "sync"):
        _cluster_options(commands.choices[name])

    demo = command("demo", "walk through the API on the local provider")
    demo.add_argument("--root", help="local root (default: the per-user data dir)")
    serve = command("serve", "serve the signed URLs of a local root over HTTP")
    serve.add_argument("--root", help="local root (default: the per-user data dir)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8650)
    return parser

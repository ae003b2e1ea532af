"""The ``bucketbridge`` command: ``ls``, ``cp``, ``sync``... over every
provider, ``demo`` and ``serve``.

Start-up matters (a command in a shell loop starts hundreds of times), so
nothing here imports an SDK or the library's engines before a subcommand
needs them: ``--help`` and ``ls local://`` import neither boto3 nor azure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from .exits import FAILED, USAGE, CommandError, code_of, describe, signals_unwind


def _log_setup(verbose: bool, debug: bool) -> None:
    import logging  # here, not at the top: ``--help`` and usage errors need none

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if verbose and not debug:
        # one line per request: the lean data plane's own, and urllib3's
        # (every SDK's transport); redaction.py scrubs the SDKs' records
        logging.getLogger("bucketbridge").setLevel(logging.INFO)
        logging.getLogger("bucketbridge.requests").setLevel(logging.DEBUG)
        logging.getLogger("urllib3.connectionpool").setLevel(logging.DEBUG)


def _handler(command: str) -> Callable[..., int]:
    if command in ("ls", "mb", "rb"):
        from . import buckets

        return getattr(buckets, command)  # type: ignore[no-any-return]
    if command in ("stat", "cat", "rm", "url"):
        from . import objects

        return getattr(objects, command)  # type: ignore[no-any-return]
    from . import transfers

    return getattr(transfers, command)  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    from .parsing import build_parser

    args = build_parser().parse_args(argv)
    if args.command in ("demo", "serve"):
        import logging

        from .local_commands import run_demo, run_serve

        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        if args.command == "demo":
            return run_demo(args.root)
        return run_serve(args.root, args.host, args.port)
    _log_setup(args.verbose, args.debug)
    from .context import Context
    from .output import cancelled

    try:
        with signals_unwind(on_signal=cancelled.set):
            ctx = Context.of(args, dict(os.environ))
            return _handler(args.command)(ctx, args)
    except BrokenPipeError:
        # the reader went away (`bucketbridge cat s3://b/k | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except BaseException as error:
        if isinstance(error, SystemExit):
            raise
        code = code_of(error)
        if args.debug:
            import traceback

            traceback.print_exc()
        if isinstance(error, KeyboardInterrupt):
            sys.stderr.write("bucketbridge: interrupted; what was started was undone\n")
        elif isinstance(error, CommandError):
            sys.stderr.write(f"bucketbridge: {error}\n")
        else:
            prefix = "usage: " if code == USAGE else ""
            sys.stderr.write(f"bucketbridge: {prefix}{describe(error)}\n")
            if code == FAILED and not isinstance(error, Exception):
                raise
        return code


__all__ = ["main"]

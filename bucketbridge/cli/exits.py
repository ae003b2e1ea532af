"""Errors to exit codes, and the one line each error prints.

The codes are documented in ``bucketbridge --help`` (:data:`EPILOG`) and
the README; scripts rely on them, so they never change meaning.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from ..errors import (
    BucketBridgeException,
    InvalidConfigurationException,
    InvalidNameException,
    InvalidParamException,
    InvalidValueException,
    NotFoundException,
    PermissionDeniedException,
    ProviderConnectionException,
    ProviderNotInstalledException,
)

OK = 0
FAILED = 1  # anything else: a server error, some objects of a -r or sync failed
USAGE = 2  # bad arguments, address, name, config or profile (argparse's own code too)
NOT_FOUND = 3  # no such bucket, object, file or directory
PERMISSION = 4  # refused by the server or the file system (credentials, ACLs, modes)
CONNECTION = 5  # no answer: DNS, refused connection, timeout after every retry
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), what was started is undone
TERMINATED = 143  # SIGTERM (128 + SIGTERM), the same

EPILOG = f"""exit codes:
  {OK}    success
  {FAILED}    failure (a server error, or some objects of a -r copy or sync failed)
  {USAGE}    usage error: bad arguments, address, name, config or profile
  {NOT_FOUND}    not found: bucket, object, file or directory
  {PERMISSION}    permission denied
  {CONNECTION}    connection failure: the server could not be reached
  {INTERRUPTED}  interrupted (Ctrl-C); {TERMINATED} terminated (SIGTERM): nothing partial is left

addresses: local://bucket/key, s3://, az://, gs://, swift:// (e.g. s3://bucket/prefix/),
  a plain path is a file (a directory with -r), '-' is stdin/stdout for cp and cat.
settings: the environment, the config file ($BUCKETBRIDGE_CONFIG), --profile NAME
  (its [profile NAME] section, with provider = aws|azure|gcp|openstack|local)."""


class UsageError(Exception):
    """A command line that cannot be run as given."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: it unwinds exactly as Ctrl-C
    does, so every transfer aborts what it started."""


class CommandError(Exception):
    """An error at one address: printed as ``bucketbridge: ADDRESS: cause``."""

    def __init__(self, address: str, cause: BaseException, code: int | None = None) -> None:
        super().__init__(f"{address}: {describe(cause)}")
        self.address = address
        self.cause = cause
        self.code = code if code is not None else code_of(cause)


def describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def code_of(error: BaseException) -> int:
    if isinstance(error, CommandError):
        return error.code
    if isinstance(error, (NotFoundException, FileNotFoundError)):
        return NOT_FOUND
    if isinstance(error, (PermissionDeniedException, PermissionError)):
        return PERMISSION
    if isinstance(error, ProviderConnectionException):
        return CONNECTION
    if isinstance(
        error,
        (
            UsageError,
            InvalidNameException,
            InvalidValueException,
            InvalidParamException,
            InvalidConfigurationException,
            ProviderNotInstalledException,
            IsADirectoryError,
            NotADirectoryError,
        ),
    ):
        return USAGE
    if isinstance(error, Terminated):
        return TERMINATED
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    return FAILED


@contextmanager
def at(address: str) -> Iterator[None]:
    """Errors raised inside name ``address`` in their one line."""
    try:
        yield
    except BrokenPipeError:
        raise  # our reader went away (`ls -r ... | head`): main() ends quietly
    except (BucketBridgeException, OSError) as error:
        raise CommandError(address, error) from error


@contextmanager
def signals_unwind(on_signal: Callable[[], None]) -> Iterator[None]:
    """Within, SIGTERM raises :class:`Terminated` and Ctrl-C
    KeyboardInterrupt in the main thread; a second signal while unwinding is
    ignored, so the aborts of what was started finish."""

    def handler(signum: int, frame: FrameType | None) -> None:
        on_signal()  # tells the worker threads, which signals never reach
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    try:
        previous = {
            number: signal.signal(number, handler) for number in (signal.SIGTERM, signal.SIGINT)
        }
    except ValueError:  # not the main thread (main() called from a thread)
        yield
        return
    try:
        yield
    finally:
        for number, action in previous.items():
            signal.signal(number, action)

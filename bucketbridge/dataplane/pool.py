"""Keep-alive connections to one host, reused most-recently-idle first.

At most ``size`` idle connections are kept per host (more may be open while
busy; the transfer engine never runs more threads than the pool is wide, see
``TransferPlan.resolve``). A connection is only put back once its response
has been read to the end, so the next request on it starts clean.
"""

from __future__ import annotations

import ctypes
import select
import socket
import ssl
import struct
import sys
import threading
from typing import Any, cast

from .http11 import Connection
from .request import Endpoint

COALESCE_LIMIT = 64 * 1024
"""A body up to this size leaves in the same ``send`` as the request's head."""


class ConnectTimeoutError(TimeoutError):
    """No connection (TCP and TLS handshake) within ``connect_timeout``: the
    error message says "connect timed out", not just "timed out"."""


class ReadTimeoutError(TimeoutError):
    """The server sent nothing for ``read_timeout`` (before or inside a response)."""


class WriteTimeoutError(TimeoutError):
    """The server took no more of the request for ``read_timeout``."""


class ConnectionPool:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        size: int,
        connect_timeout: float,
        read_timeout: float,
        tls: ssl.SSLContext | None,
    ) -> None:
        self._endpoint = endpoint
        self._size = size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._tls = tls
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> tuple[Connection, bool]:
        """A connected connection, and whether it was reused. Idle ones the
        server has visibly closed are dropped here; one it closes just as it
        is reused fails the request, which the client then sends again on
        another connection without counting an attempt."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                connection = self._idle.pop()
            if not _dropped(connection):
                return connection, True
            # the server closed it while idle (its keep-alive timeout): found
            # here with one poll rather than by a failed request
            connection.close()
        return self._connect(), False

    def _connect(self) -> Connection:
        try:
            connection = Connection.open(
                self._endpoint.host, self._endpoint.port, self._connect_timeout, self._tls
            )
        except TimeoutError as error:
            raise ConnectTimeoutError(
                f"connect timed out after {self._connect_timeout}s"
            ) from error
        # the connect timeout bounds the handshake; every later wait is a read
        sock = connection.sock
        if self._tls is None and hasattr(socket, "SO_RCVTIMEO"):
            # Python polls before every send and receive on a socket with a
            # timeout (two system calls more a request, a fifth of a HEAD's
            # system time): a blocking socket with the kernel's own timeouts
            # waits inside recv and send instead. A timeout is then EAGAIN
            # (BlockingIOError), which the client names as it names
            # TimeoutError. TLS sockets keep Python's timeout: OpenSSL
            # reports EAGAIN as "want read" on a blocking socket.
            sock.settimeout(None)
            seconds = int(self._read_timeout)
            micros = int((self._read_timeout - seconds) * 1_000_000)
            timeval = struct.pack("@ll", seconds, micros)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        else:
            sock.settimeout(self._read_timeout)
        return connection

    def release(self, connection: Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._size:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


def _load_held_poll() -> Any:
    """libc's ``poll`` called without letting go of the GIL (``PyDLL``), or
    None. ``select.poll`` lets it go around every call, even one with a
    zero timeout, which never waits: with 16 threads each such call hands
    the GIL to another thread and waits to get it back (a futex wake and a
    context switch each way), ~6 CPU-us more than the call itself on this
    machine. Linux only: the struct's layout is POSIX's, but not checked elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.PyDLL(None, use_errno=True).poll
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.POINTER(_PollFd), ctypes.c_ulong, ctypes.c_int]
    return function


_held_poll = _load_held_poll()


def _dropped(connection: Connection) -> bool:
    """Whether an idle connection is unusable: readable means the server
    closed it (EOF), reset it, or sent bytes no request asked for."""
    if connection.buffer:  # bytes past the last response: no request asked for them
        return True
    fileno = connection.sock.fileno()
    if fileno < 0:
        return True
    poller = connection.poller
    if poller is None:
        # made once a connection: a poll object per check cost as much as the poll
        poller = connection.poller = _poller(fileno)
    if isinstance(poller, _PollFd):
        # a zero timeout: the call never waits, so it keeps the GIL
        ready: int = _held_poll(ctypes.byref(poller), 1, 0)
        if ready >= 0:
            return ready > 0
        poller = connection.poller = _poller(fileno, held=False)  # EINTR, ENOMEM: the module's
    return bool(cast("select.poll", poller).poll(0))


def _poller(fileno: int, *, held: bool = True) -> _PollFd | select.poll:
    """What ``_dropped`` polls ``fileno`` with: libc's poll kept under the
    GIL where it loaded, else a ``select.poll`` object."""
    if held and _held_poll is not None:
        return _PollFd(fileno, select.POLLIN, 0)
    poller = select.poll()
    poller.register(fileno, select.POLLIN)
    return poller

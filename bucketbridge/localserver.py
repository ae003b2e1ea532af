"""The HTTP server that honours the embedded providers' signed URLs.

A WSGI app (werkzeug parses requests and ranges) on cheroot, a threaded
production server that streams request and response bodies, so many clients
are served at once and no body is held in memory. It serves any driver: reads
and writes go through the driver protocol, so a PUT is as atomic as any other
upload. ``bucketbridge serve`` runs it in the foreground; otherwise a driver's
``SignedUrlService`` starts one on a free loopback port, in a daemon thread, at
its first ``generate_url``, and stops it when the driver is closed.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cheroot import wsgi
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date
from werkzeug.wrappers import Request, Response

from .drivers.base import Driver
from .drivers.records import (
    Body,
    ObjectInfo,
    ReadOptions,
    WriteOptions,
    guess_content_type,
)
from .errors import (
    BucketBridgeException,
    InvalidNameException,
    NotFoundException,
    PreconditionFailedException,
    ProviderConnectionException,
)
from .urlsigning import SignatureError, UrlSigner

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("bucketbridge")
CHUNK = 1024 * 1024
VERSION_ATTEMPTS = 3
# Connections served at once; each idle or slow one holds one thread (about
# 30 KiB of memory, measured), and no other connection waits for it.
MAX_CONNECTIONS = 512
# Seconds a client may stay silent while sending a request or reading a
# response before its connection is closed.
SOCKET_TIMEOUT = 20
# Connections the kernel holds until they are accepted. cheroot's default, 5,
# makes a burst of clients wait a second each for a SYN to be resent.
LISTEN_BACKLOG = 128


class SignedUrlServer:
    def __init__(
        self,
        driver: Driver,
        signer: UrlSigner,
        *,
        max_connections: int = MAX_CONNECTIONS,
        timeout: int = SOCKET_TIMEOUT,
    ) -> None:
        self._driver = driver
        self._signer = signer
        self._max_connections = max_connections
        self._timeout = timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _make_server(self, host: str, port: int) -> Any:
        server = wsgi.Server(
            (host, port), self, timeout=self._timeout, request_queue_size=LISTEN_BACKLOG
        )
        server.requests = ConnectionThreads(server, self._max_connections)
        server.prepare()
        return server

    def listen(self, host: str, port: int) -> str:
        """Bind to ``host:port`` (0: any free port) and return the base URL;
        a port that cannot be had raises ProviderConnectionException naming it."""
        try:
            self._server = self._make_server(host, port)
        except OSError as error:
            # cheroot keeps only the text of the bind's error: take its reason
            reason = re.search(r"\[Errno \d+\] ([^)]+)", str(error))
            raise ProviderConnectionException(
                f"cannot serve signed URLs on {host}:{port}: "
                f"{reason.group(1).lower() if reason else error}"
            ) from error
        bound_host, bound_port = self._server.bind_addr[:2]
        return f"http://{bound_host}:{bound_port}"

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving in a daemon thread; returns the base URL.

        Every thread the server starts is a daemon, so a user's script that
        never closes its provider still exits: the connection threads are
        made daemons, and cheroot's own helper thread is started from the
        serving thread, whose daemon flag it inherits.
        """
        url = self.listen(host, port)
        self._thread = threading.Thread(
            target=self._server.serve, name="bucketbridge-url-server", daemon=True
        )
        self._thread.start()
        log.debug("signed-URL server listening on %s", url)
        return url

    def serve_forever(self) -> None:
        """Serve in this thread, after ``listen``, until interrupted."""
        try:
            self._server.serve()
        finally:
            self._server.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            # cheroot registers every server's statistics in a global dict and
            # never removes them, which would keep this server and its driver
            # (and the driver's open directories) alive for good.
            statistics = getattr(logging, "statistics", {})
            statistics.pop(f"Cheroot HTTPServer {id(self._server)}", None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the WSGI app --------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self._respond(request)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        bucket, _, key = request.path.lstrip("/").partition("/")
        if not bucket or not key:
            return _error(404, "NoSuchKey", "the path must be /<bucket>/<key>")
        try:
            verified = self._signer.verify(request.method, bucket, key, request.args)
        except SignatureError as error:
            return _error(403, "AccessDenied", str(error))
        try:
            if request.method == "GET":
                return self._get(request, bucket, key, verified.response_headers)
            if request.method == "PUT":
                return self._put(request, bucket, key)
            return _error(405, "MethodNotAllowed", f"{request.method} is not served")
        except NotFoundException as error:
            return _error(404, "NoSuchKey", str(error))
        except InvalidNameException as error:
            return _error(400, "InvalidName", str(error))
        except BucketBridgeException as error:
            log.warning("signed %s of %s/%s failed: %s", request.method, bucket, key, error)
            return _error(500, "InternalError", str(error))

    def _get(
        self, request: Request, bucket: str, key: str, overrides: Mapping[str, str]
    ) -> Response:
        for _ in range(VERSION_ATTEMPTS):
            info = self._driver.head_object(bucket, key)
            if info is None:
                return _error(404, "NoSuchKey", f"object {key!r} not found in bucket {bucket!r}")
            try:
                return self._respond_with(request, info, bucket, key, overrides)
            except PreconditionFailedException:  # replaced since the head: look again
                continue
        return _error(503, "SlowDown", f"object {key!r} is changing too fast to serve")

    def _respond_with(
        self,
        request: Request,
        info: ObjectInfo,
        bucket: str,
        key: str,
        overrides: Mapping[str, str],
    ) -> Response:
        start, end, status = 0, info.size, 200
        # Several ranges in one request get the whole object, as S3 answers
        # them (AWS, SeaweedFS, moto): RFC 9110 lets a server ignore Range, and
        # a client tested here then sees what it will see on every provider.
        if request.range is not None and len(request.range.ranges) == 1:
            span = request.range.range_for_length(info.size)
            if span is None:
                refusal = RequestedRangeNotSatisfiable(length=info.size)
                return Response(
                    "requested range not satisfiable", 416, headers=refusal.get_headers()
                )
            start, end, status = span[0], span[1], 206
        # The headers describe the version looked up; read only that one.
        options = ReadOptions(start=start, end=end, chunk_size=CHUNK, if_revision=info.revision)
        body = self._driver.read_object(bucket, key, options)
        response = Response(iter(body), status=status, direct_passthrough=True)
        response.headers["Content-Length"] = str(end - start)
        response.headers["Content-Type"] = overrides.get(
            "Content-Type", info.content_type or guess_content_type(key)
        )
        if "Content-Disposition" in overrides:
            response.headers["Content-Disposition"] = overrides["Content-Disposition"]
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["Last-Modified"] = http_date(info.last_modified)
        if info.etag:
            response.headers["ETag"] = f'"{info.etag}"'
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
        return response

    def _put(self, request: Request, bucket: str, key: str) -> Response:
        length = request.content_length
        if length is None:
            return _error(411, "MissingContentLength", "a PUT needs a Content-Length")
        info = self._driver.put_object(
            bucket,
            key,
            Body.of_stream(request.stream, length),
            WriteOptions(content_type=request.mimetype or guess_content_type(key)),
        )
        response = Response(status=200)
        if info.etag:
            response.headers["ETag"] = f'"{info.etag}"'
        return response


class ConnectionThreads:
    """cheroot's request pool, with one daemon thread per connection served.

    cheroot hands a connection to its pool as soon as a byte of a request
    arrives, and the thread that takes it blocks until the rest arrives or
    ``timeout`` passes between two reads. With a fixed pool, as many slow or
    idle clients as threads stop the server for everyone. Here each
    connection being served has its own thread, so a slow client holds only
    its own, and a kept-alive connection between requests holds none (it
    waits in cheroot's selector). Past ``limit`` connections at once cheroot
    answers new ones 503.

    cheroot documents the pool's interface: ``min``, ``get``, ``put``,
    ``start`` and ``stop``; ``get`` is for its own workers, which this pool
    does not have.
    """

    def __init__(self, server: Any, limit: int) -> None:
        self.min = 1  # read by cheroot's numthreads property
        self.max = limit
        self._server = server
        self._slots = threading.BoundedSemaphore(limit)
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Nothing to start: threads are made per connection."""

    def get(self) -> Any:
        raise NotImplementedError("this pool has no worker threads to feed")

    def put(self, conn: Any) -> None:
        if not self._slots.acquire(blocking=False):
            raise queue.Full  # cheroot then answers the connection 503
        thread = threading.Thread(
            target=self._serve, args=(conn,), name="bucketbridge-url-conn", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _serve(self, conn: Any) -> None:
        keep_open = False
        try:
            keep_open = conn.communicate()
        except Exception as error:  # one client's failure is no one else's
            log.debug("signed-URL connection ended: %r", error)
        finally:
            try:
                if keep_open:
                    self._server.put_conn(conn)  # back to the selector, no thread held
                else:
                    conn.close()
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())
                self._slots.release()

    def stop(self, timeout: float | None = 5) -> None:
        """Give the connections being served ``timeout`` seconds to finish;
        the threads are daemons, so one that does not cannot hold the process."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            running = list(self._threads)
        for thread in running:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
            thread.join(remaining)


def _error(status: int, code: str, message: str) -> Response:
    body = f"<Error><Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error>"
    return Response(body, status=status, content_type="application/xml")


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""The Swift driver's hot calls on the lean data plane (:mod:`bucketbridge.dataplane`).

HEAD and GET of an object, PUT of an object or an SLO segment, and a page of
a container listing go straight over :class:`~bucketbridge.dataplane.client.HttpClient`
(a small object's whole GET is also handed to the multiplexer: ``small_read``)
with an ``X-Auth-Token`` (:mod:`.signing`): swiftclient spends ~1 ms of
client CPU on each request in ``requests``, and copies every body through
Python. Everything else (containers, the account, SLO manifests, deletes,
temp-URL keys) stays on swiftclient.

Requests and answers are spelled as swiftclient spells them, so an object
reads the same whichever plane wrote it: paths percent-encoded with ``/``
kept, and response header values decoded from UTF-8 then percent-decoded
(swiftclient's ``parse_header_string``; see :mod:`.metadata`). Error
statuses map through :func:`.errors.status_error`, as swiftclient's do.

No ``ETag`` goes with a PUT: Swift would verify the body's MD5 against it,
but hashing 512 MiB costs ~1 CPU-s here (3x the issue's budget for a whole
upload); the body goes out with ``os.sendfile`` and its length is checked by
the server, and Swift's answer carries the MD5 it computed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import unquote

from ...dataplane.client import HttpClient, Response
from ...dataplane.multiplex import Answer, Exchange
from ...dataplane.request import Endpoint, Request, encode
from ...errors import BucketBridgeException
from ..http_errors import Subject
from ..records import Body
from . import heartbeat
from .errors import status_error
from .signing import TokenSigner


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    attempts: int


class SwiftWire:
    """Thread-safe, as its HttpClient is; one per driver."""

    def __init__(
        self, http: HttpClient, signer: TokenSigner, endpoint: Endpoint, subject: Subject, mode: str
    ) -> None:
        self._http = http
        self._signer = signer
        self._endpoint = endpoint
        self._subject = subject
        self._mode = mode

    def close(self) -> None:
        self._http.close()

    @property
    def client(self) -> HttpClient:
        return self._http

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    def head(self, container: str, name: str) -> Mapping[str, str] | None:
        """The object's headers; None if it (or its container) is missing."""
        subject = self._subject.on(container, name)
        response = self._send(self._request("HEAD", container, name), subject)
        if response.status == 404:
            response.discard()
            return None
        if response.status >= 300:
            raise self._failure(response, subject)
        response.discard()
        return decoded(response.headers)

    def get(
        self,
        container: str,
        name: str,
        headers: dict[str, str],
        *,
        query: list[tuple[str, str]] | None = None,
        report: frozenset[int] = frozenset(),
    ) -> Response | None:
        """The open response to a GET (its body not yet read); None if the
        range is not satisfiable (416). An error status raises, unless it is
        in ``report``."""
        subject = self._subject.on(container, name)
        request = self._request("GET", container, name, headers=headers, query=query)
        response = self._send(request, subject)
        if response.status == 416:
            response.discard()
            return None
        if response.status >= 300 and response.status not in report:
            raise self._failure(response, subject)
        return response

    def small_read(self, container: str, name: str) -> Exchange:
        """:meth:`get`'s GET of a whole object, unsent (the multiplexer
        sends it, signed with the current token)."""
        request = self._request("GET", container, name)
        return Exchange(request, self._signer, self._subject.on(container, name))

    def small_put(
        self, container: str, name: str, body: bytes, headers: dict[str, str]
    ) -> Exchange:
        """:meth:`put`'s PUT of a whole small object, unsent (the
        multiplexer sends it, signed with the current token)."""
        request = self._request("PUT", container, name, headers=headers, body=body)
        return Exchange(request, self._signer, self._subject.on(container, name))

    def answered_error(self, answer: Answer, container: str, name: str) -> BucketBridgeException:
        """What :meth:`get` raises for the error status of a whole answer
        the multiplexer read (the same exception, the same message)."""
        subject = self._subject.on(container, name)
        return status_error(answer.status, answer.reason, subject, self._mode, answer.attempts)

    def put(
        self,
        container: str,
        name: str,
        body: Body | bytes,
        headers: dict[str, str],
        *,
        report: frozenset[int] = frozenset(),
        sent_before: int = 0,
    ) -> Reply:
        """PUT a body; an error status raises, unless it is in ``report``
        (the caller tells its own cases apart, as a create-only PUT's 412
        after a retry that may have met its own first attempt).
        ``sent_before``: copies the multiplexer sent (:meth:`.HttpClient.send`)."""
        subject = self._subject.on(container, name)
        request = self._request("PUT", container, name, headers=headers, body=body)
        response = self._send(request, subject, sent_before)
        if response.status >= 300 and response.status not in report:
            raise self._failure(response, subject)
        response.discard()
        return Reply(response.status, decoded(response.headers), response.attempts)

    def copy(self, container: str, name: str, headers: dict[str, str]) -> Reply:
        """A server-side copy (a PUT with ``X-Copy-From`` in ``headers``)
        with ``?heartbeat=on``: see :mod:`.heartbeat`. An error status,
        whether the proxy answered it at once (the source missing or not
        matching ``If-Match``) or in the heartbeat body, raises."""
        subject = self._subject.on(container, name)
        sent = {**headers, "accept": "application/json"}
        request = self._request("PUT", container, name, headers=sent, query=heartbeat.QUERY)
        response = self._send(request, subject)
        if response.status != 202:  # refused before copying: a plain answer
            if response.status >= 300:
                raise self._failure(response, subject)
            response.discard()
            return Reply(response.status, decoded(response.headers), response.attempts)
        outcome = heartbeat.parse(response.read())
        if outcome.status >= 300:
            raise status_error(
                outcome.status, outcome.reason, subject, self._mode, response.attempts
            )
        headers = {name: decoded_value(value) for name, value in outcome.headers.items()}
        return Reply(outcome.status, headers, response.attempts)

    def listing(
        self,
        container: str,
        *,
        prefix: str | None,
        marker: str | None,
        limit: int,
        delimiter: str | None = None,
    ) -> list[dict[str, Any]]:
        """One page of a container's listing, as Swift's JSON gives it (with
        a ``delimiter``, ``{"subdir": ...}`` entries among the objects)."""
        listing: list[dict[str, Any]] = json.loads(
            self.listing_raw(
                container, prefix=prefix, marker=marker, limit=limit, delimiter=delimiter
            )
        )
        return listing

    def describe(self, container: str) -> str:
        """The container as errors name it."""
        return self._subject.on(container).describe()

    def listing_raw(
        self,
        container: str,
        *,
        prefix: str | None,
        marker: str | None,
        limit: int,
        delimiter: str | None = None,
    ) -> bytes:
        """:meth:`listing`'s page as JSON bytes, unparsed."""
        query = [("format", "json"), ("limit", str(limit))]
        if marker:
            query.append(("marker", marker))
        if prefix:
            query.append(("prefix", prefix))
        if delimiter:
            query.append(("delimiter", delimiter))
        subject = self._subject.on(container)
        response = self._send(self._request("GET", container, query=query), subject)
        if response.status >= 300:
            raise self._failure(response, subject)
        if response.status == 204:  # an empty container, as older Swifts answer it
            response.discard()
            return b"[]"
        return response.read()

    def _request(
        self,
        method: str,
        container: str,
        name: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: Body | bytes | None = None,
    ) -> Request:
        path = f"{self._endpoint.base_path}/{encode(container, keep_slash=True)}"
        if name is not None:
            path += "/" + encode(name, keep_slash=True)
        return Request(method, self._endpoint, path, query or [], dict(headers or {}), body)

    def _send(self, request: Request, subject: Subject, sent_before: int = 0) -> Response:
        response = self._http.send(request, self._signer, subject, sent_before=sent_before)
        if response.status == 401 and self._signer.renew(request):
            response.discard()
            response = self._http.send(request, self._signer, subject, sent_before=sent_before)
        return response

    def _failure(self, response: Response, subject: Subject) -> BucketBridgeException:
        response.discard()
        status, attempts = response.status, response.attempts
        return status_error(status, response.reason, subject, self._mode, attempts)


def decoded(message: Message) -> dict[str, str]:
    """Response headers as swiftclient hands them out: names lower-cased,
    values read as UTF-8 (http.client reads them as Latin-1), then
    percent-decoded where that yields valid UTF-8."""
    headers: dict[str, str] = {}
    for name, value in message.items():
        with contextlib.suppress(UnicodeError):
            value = value.encode("latin-1").decode("utf-8")
        headers[name.lower()] = decoded_value(value)
    return headers


def decoded_value(value: str) -> str:
    """A header value percent-decoded where that yields valid UTF-8."""
    with contextlib.suppress(UnicodeDecodeError):
        value = unquote(value, errors="strict")
    return value

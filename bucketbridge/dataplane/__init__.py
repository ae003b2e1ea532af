"""The lean HTTP data plane: how hot requests reach a server without an SDK in the way.

Per-request cost on this machine was the SDKs' machinery (botocore spends
~1.1 ms of client CPU on a HEAD whose signature takes 0.1 ms), and their
upload paths copy every part through Python. So the calls that move data or
run many times (GET/HEAD, ranged GET, PUT of a body, a part, a listing page)
go through this package; the SDKs stay for credential chains, the control
plane and everything rare.

- :mod:`.request` -- a :class:`~.request.Request` (method, endpoint, path,
  query, headers, body) as a signer sees it and as it is sent;
- :mod:`.signing` -- the :class:`~.signing.Signer` protocol a driver
  implements for its provider (S3 SigV4, Azure SharedKey, a bearer token);
- :mod:`.http11` -- one HTTP/1.1 connection: a request head written, a
  response head and body read, without http.client's per-response objects;
- :mod:`.response` -- the headers' ``HTTPMessage``, with a lower-case index;
- :mod:`.pool` -- keep-alive connections per host, bounded like the SDKs' pools;
- :mod:`.client` -- :class:`~.client.HttpClient`: sign, send (a file window
  with ``os.sendfile`` where the socket allows it), retry with jittered
  backoff, and a :class:`~.client.Response` read with ``readinto``;
- :mod:`.selection` -- whether the lean plane is used at all
  (``data_plane="sdk"`` and proxied endpoints keep the SDK).

Statuses are not mapped here: a driver reads its provider's error body and
calls :mod:`bucketbridge.drivers.http_errors`, as it does for SDK errors.
"""

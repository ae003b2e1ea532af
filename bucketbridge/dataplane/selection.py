"""Whether a provider's hot calls take the lean plane or stay on its SDK."""

from __future__ import annotations

import logging
import urllib.request

from .request import Endpoint

log = logging.getLogger("bucketbridge")


def use_lean_plane(data_plane: str, endpoint: Endpoint) -> bool:
    """True unless the user chose the SDK, or the environment sends this
    endpoint through a proxy: the SDKs honour HTTP(S)_PROXY, the lean plane
    does not, so a proxied endpoint keeps the SDK rather than bypass it."""
    if data_plane == "sdk":
        return False
    proxies = urllib.request.getproxies()
    # ALL_PROXY counts too: requests (under the Azure and Google SDKs) honours it
    proxied = endpoint.scheme in proxies or "all" in proxies
    # NO_PROXY may name the host, or host:port (requests, under the Azure
    # and Google SDKs, honours both)
    bypass = urllib.request.proxy_bypass
    if proxied and not (bypass(endpoint.host) or bypass(f"{endpoint.host}:{endpoint.port}")):
        log.info("%s goes through a proxy: its requests stay on the SDK", endpoint.url())
        return False
    return True

"""An in-process stand-in for memcached in the test Swift's proxy (loaded by
swift_launcher.py from Swift's own virtual environment; imports nothing of
bucketbridge).

Without a cache the proxy looks the account and the container up again for
every object request: an object HEAD is then three backend round trips
(account, container, object), each through the proxy's whole pipeline --
~39 ms under the CI's load where a HEAD with the infos cached is one. A real
cluster runs memcached; this dict gives the proxy the same (its one process
is the only one that writes through it, and it clears an account's or a
container's info when that changes, as it does in memcached).

The subset of ``swift.common.memcached.MemcacheRing`` the proxy, tempauth
and tempurl call: get, set, incr, decr, delete, get_multi, set_multi.
Values are stored serialized, as memcached stores them, so a caller that
mutates what it read does not change the cache.
"""

from __future__ import annotations

import json
import time as clock
from typing import Any

# memcached reads an expiry above 30 days as an absolute Unix time
RELATIVE_LIMIT = 30 * 24 * 3600


class MemoCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, str]] = {}

    def _deadline(self, ttl: float) -> float:
        if not ttl:
            return float("inf")
        return ttl if ttl > RELATIVE_LIMIT else clock.time() + ttl

    def set(self, key: str, value: Any, serialize: bool = True, time: float = 0, **_: Any) -> None:
        self._items[key] = (self._deadline(time), json.dumps(value))

    def get(self, key: str, raise_on_error: bool = False) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        deadline, stored = item
        if deadline < clock.time():
            self._items.pop(key, None)
            return None
        return json.loads(stored)

    def incr(self, key: str, delta: int = 1, time: float = 0) -> int:
        value = max(0, int(self.get(key) or 0) + delta)
        self.set(key, value, time=time)
        return value

    def decr(self, key: str, delta: int = 1, time: float = 0) -> int:
        return self.incr(key, -delta, time)

    def delete(self, key: str, server_key: str | None = None) -> None:
        self._items.pop(key, None)

    def set_multi(
        self, mapping: dict[str, Any], server_key: str, serialize: bool = True, time: float = 0,
        **_: Any,
    ) -> None:  # fmt: skip
        for key, value in mapping.items():
            self.set(key, value, time=time)

    def get_multi(self, keys: list[str], server_key: str) -> list[Any]:
        return [self.get(key) for key in keys]


def filter_factory(global_conf: dict[str, str], **local_conf: str) -> Any:
    cache = MemoCache()

    def memo_filter(app: Any) -> Any:
        def middleware(env: dict[str, Any], start_response: Any) -> Any:
            env["swift.cache"] = cache
            return app(env, start_response)

        return middleware

    return memo_filter

"""The swiftclient connections of the Swift driver, built from the resolved settings.

Three ways in, chosen by which keys are set (CloudBridge's ``os_*`` names,
each also from the upper-cased environment, as OpenStack users have them):

1. **pre-authenticated**: ``os_storage_url`` + ``os_auth_token`` (the seed's
   case); nothing can renew the token, so its expiry is reported as such;
2. **v1 auth** (tempauth, swauth): ``os_auth_url`` ending in ``/auth/v1.0``
   with ``os_username`` / ``os_password``; swiftclient re-authenticates on 401;
3. **Keystone v3** over keystoneauth1: a password (``os_username``,
   ``os_password``, ``os_project_name``, the two domain names) or an
   application credential; the session renews the token.

A swiftclient ``Connection`` is not thread-safe (it holds one HTTP session
and the token it re-authenticates into), so the driver borrows one per
request from :class:`ConnectionPool`, as swiftclient's own ``SwiftService``
keeps one per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...config import ConnectionSettings, Setting, Settings
from ...errors import InvalidConfigurationException

if TYPE_CHECKING:
    from swiftclient.client import Connection

SETTINGS = (
    Setting("os_storage_url", str),
    Setting("os_auth_token", str, secret=True),
    Setting("os_auth_url", str),
    Setting("os_username", str),
    Setting("os_password", str, secret=True),
    Setting("os_project_name", str),
    Setting("os_project_id", str),
    Setting("os_user_domain_name", str, "Default"),
    Setting("os_project_domain_name", str, "Default"),
    Setting("os_region_name", str),
    Setting("os_zone_name", str),  # CloudBridge's; compute only, accepted and unused
    Setting("os_interface", str, "public"),
    Setting("os_application_credential_id", str),
    Setting("os_application_credential_secret", str, secret=True),
    Setting("os_temp_url_key", str, secret=True),
    # seconds an overwritten or deleted large object's segments stay
    # readable (X-Delete-After) for readers that started before; 0 deletes
    # them at once (bucketbridge/drivers/swift/retire.py)
    Setting("swift_segment_grace", int, 3600, minimum=0),
)

V1_SUFFIXES = ("/auth/v1.0", "/v1.0")


@dataclass(frozen=True)
class SwiftSettings:
    mode: str  # "token", "v1" or "keystone"
    storage_url: str | None
    auth_token: str | None
    auth_url: str | None
    username: str | None
    password: str | None
    temp_url_key: str | None
    segment_grace: int
    keystone: dict[str, str | None]
    connection: ConnectionSettings

    def __repr__(self) -> str:
        return (
            f"SwiftSettings(mode={self.mode!r}, storage_url={self.storage_url!r},"
            f" auth_url={self.auth_url!r}, username={self.username!r}, auth_token=***,"
            f" password=***, temp_url_key=***, connection={self.connection!r})"
        )


def read_settings(settings: Settings) -> SwiftSettings:
    storage_url, token = settings["os_storage_url"], settings["os_auth_token"]
    auth_url = settings["os_auth_url"]
    keystone = {
        name: settings[f"os_{name}"]
        for name in (
            "project_name",
            "project_id",
            "user_domain_name",
            "project_domain_name",
            "region_name",
            "interface",
            "application_credential_id",
            "application_credential_secret",
        )
    }
    if token and storage_url:
        mode = "token"
    elif token or (storage_url and not auth_url):
        missing = "os_storage_url" if token else "os_auth_token"
        raise InvalidConfigurationException(
            f"OpenStack token auth is incomplete: {missing} is not set"
            " (give both os_storage_url and os_auth_token, or os_auth_url and credentials)"
        )
    elif not auth_url:
        raise InvalidConfigurationException(
            "OpenStack credentials are missing: set os_storage_url and os_auth_token,"
            " or os_auth_url with os_username and os_password (or an application credential)"
        )
    elif auth_url.rstrip("/").endswith(V1_SUFFIXES):
        mode = "v1"
        _require(settings, "os_username", "os_password", why=f"v1 auth at {auth_url}")
    else:
        mode = "keystone"
        if keystone["application_credential_id"]:
            _require(settings, "os_application_credential_secret", why="an application credential")
        else:
            _require(settings, "os_username", "os_password", why="Keystone v3 password auth")
    return SwiftSettings(
        mode=mode,
        storage_url=storage_url,
        auth_token=token,
        auth_url=auth_url,
        username=settings["os_username"],
        password=settings["os_password"],
        temp_url_key=settings["os_temp_url_key"],
        segment_grace=settings["swift_segment_grace"],
        keystone=keystone,
        connection=ConnectionSettings.of(settings),
    )


def _require(settings: Settings, *names: str, why: str) -> None:
    missing = [name for name in names if not settings[name]]
    if missing:
        raise InvalidConfigurationException(f"{why} needs {' and '.join(missing)}")


def keystone_session(settings: SwiftSettings) -> Any:
    """A keystoneauth1 session for Keystone v3 (it renews the token itself)."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    k = settings.keystone
    auth_url = settings.auth_url or ""  # read_settings made sure of it
    auth: Any
    if k["application_credential_id"]:
        auth = v3.ApplicationCredential(
            auth_url=auth_url,
            application_credential_id=k["application_credential_id"],
            application_credential_secret=k["application_credential_secret"] or "",
        )
    else:
        auth = v3.Password(
            auth_url=auth_url,
            username=settings.username,
            password=settings.password or "",
            project_name=k["project_name"],
            project_id=k["project_id"],
            user_domain_name=k["user_domain_name"],
            project_domain_name=k["project_domain_name"],
        )
    # keystoneauth takes one timeout; the longer one bounds both phases
    return session.Session(
        auth=auth, timeout=settings.connection.read_timeout, verify=settings.connection.verify
    )


class ConnectionPool:
    """Idle swiftclient connections, at most ``pool_size`` kept; one is
    borrowed per request, so parallel parts never share one."""

    def __init__(self, settings: SwiftSettings) -> None:
        self._settings = settings
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._session = keystone_session(settings) if settings.mode == "keystone" else None

    def _new(self) -> Connection:
        # swiftclient (0.2-0.6 s to import) only once a call takes it: the
        # lean plane with a pre-authenticated token never does
        from swiftclient.client import Connection

        s = self._settings
        common: dict[str, Any] = {
            # swiftclient counts retries after the first try
            "retries": s.connection.max_attempts - 1,
            "timeout": (s.connection.connect_timeout, s.connection.read_timeout),
            "starting_backoff": 0.5,
            "max_backoff": 8,
        }
        if s.connection.ca_bundle is not None:
            common["cacert"] = s.connection.ca_bundle
        if s.mode == "token":
            return Connection(preauthurl=s.storage_url, preauthtoken=s.auth_token, **common)
        if s.mode == "v1":
            return Connection(
                authurl=s.auth_url, user=s.username, key=s.password, auth_version="1", **common
            )
        os_options = {
            "region_name": s.keystone["region_name"],
            "endpoint_type": s.keystone["interface"],
            "object_storage_url": s.storage_url,
        }
        return Connection(session=self._session, os_options=os_options, **common)

    def borrow(self) -> Connection:
        """A connection for this thread alone until :meth:`give_back`."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        return conn if conn is not None else self._new()

    def give_back(self, conn: Connection) -> None:
        if self._settings.mode == "token" and not conn.token:
            # swiftclient forgets a refused token, and with it the storage
            # URL; keep both so the next request says "expired" again
            conn.url, conn.token = self._settings.storage_url, self._settings.auth_token
        with self._lock:
            if len(self._idle) < self._settings.connection.pool_size:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        conn = self.borrow()
        try:
            yield conn
        finally:
            self.give_back(conn)

    def storage_url(self) -> str:
        """The account's URL (authenticating first if need be)."""
        with self.connection() as conn:
            if not conn.url:
                conn.url, conn.token = conn.get_auth()
            return str(conn.url)

    @property
    def renewable(self) -> bool:
        """Whether a refused token can be replaced (not a pre-authenticated one)."""
        return self._settings.mode != "token"

    def authenticate(self, renew: bool) -> tuple[str, str]:
        """The storage URL and a token, as swiftclient gets them (so the lean
        data plane goes where the SDK goes); ``renew`` asks for a new token."""
        s = self._settings
        if s.mode == "token":
            return s.storage_url or "", s.auth_token or ""
        if renew and self._session is not None:
            self._session.invalidate()  # else it hands back its cached token
        with self.connection() as conn:
            url, token = conn.get_auth()
        return str(url), str(token)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

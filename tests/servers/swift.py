"""Real OpenStack Swift (PyPI ``swift``) as an all-in-one server on loopback.

Swift runs from its own virtual environment (``SWIFT_VENV``, default
``.cache/swift-venv`` in the checkout, made by ``scripts/test.sh``), so its
pinned dependencies (eventlet, greenlet, ...) never touch ours. One proxy
(tempauth with fernet tokens, so no memcached; tempurl, slo, dlo, copy) and
one object, container and account server on a 1-replica ring, all on free
loopback ports, started by ``swift_launcher.py`` as one process group
(``tests/servers/process.py`` stops it however the tests end). About 2 s
to start.

The proxy's ``max_file_size`` is lowered to ``MAX_FILE_SIZE`` (40 MiB, from
Swift's 5 GiB + 2 bytes) so that the tests prove on a small file what a
6 GiB one needs in production: an object over the limit is stored as an SLO.

Its SLO ``max_manifest_segments`` is lowered to ``MAX_SEGMENTS`` (2, from
1000) for the same reason: every upload of 3 parts or more goes through the
nested manifests that an upload of more than 1000 parts needs.

No pytest here: bench/ can start the same server.

What this Swift (2.38) does not enforce as the suite expects (``UNENFORCED``):

- ``response_overrides``: a temp URL cannot override the response's
  Content-Type (Swift has no such parameter); Content-Disposition is mapped
  to ``filename=``/``inline`` and is proven.
- ``no_such_upload``: an SLO upload is only segments in ``<bucket>_segments``
  until its manifest is written; there is no upload object on the server to
  be missing, so parts sent to an aborted upload id are stored (and found
  again by ``incomplete_uploads()``).
- ``multipart_etag``: an SLO's etag is Swift's own (the MD5 of its
  segments' hex etags, as the server reports it in HEAD, GET and listings),
  not S3's ``md5-N``, so the part count cannot be read from it.
- ``expiry_reason``: an expired temp URL is refused (401) with the same
  "Temp URL invalid" as a forged one; Swift's body does not say "expired".
- ``whole_object_for_multiple_ranges``: a signed GET with several ranges
  gets a 206 ``multipart/byteranges`` answer (RFC 7233, as Swift always
  does), not the whole object as S3 and the others give.
"""

from __future__ import annotations

import base64
import os
import pwd
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bucketbridge import ProviderList
from tests.servers.backend import ServerBackend
from tests.servers.process import ServerStartError, free_ports, run_server

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("swift_launcher.py")
INSTALL_HINT = "bash scripts/test.sh (it makes .cache/swift-venv with 'pip install swift')"
USER, KEY = "test:tester", "testing"
MAX_FILE_SIZE = 40 * 1024 * 1024
MAX_SEGMENTS = 2

UNENFORCED = frozenset(
    {
        "response_overrides",
        "no_such_upload",
        "whole_object_for_multiple_ranges",
        "multipart_etag",
        "expiry_reason",
    }
)
"""What the conformance suite cannot prove on Swift (see the module doc)."""


def swift_venv() -> Path:
    return Path(os.environ.get("SWIFT_VENV") or ROOT / ".cache" / "swift-venv")


@dataclass(frozen=True)
class SwiftServer:
    proxy_url: str
    auth_url: str  # tempauth v1
    user: str
    key: str
    root: Path

    def auth(self) -> tuple[str, str]:
        """A storage URL and token from tempauth, as ``swift auth`` prints them."""
        response = requests.get(
            self.auth_url, headers={"X-Auth-User": self.user, "X-Auth-Key": self.key}, timeout=10
        )
        response.raise_for_status()
        return response.headers["X-Storage-Url"], response.headers["X-Auth-Token"]

    def config(self, **extra: Any) -> dict[str, Any]:
        """Pre-authenticated (the seed's way): storage URL and token only."""
        storage_url, token = self.auth()
        return {"os_storage_url": storage_url, "os_auth_token": token, **extra}

    def expire(self) -> None:
        """One pass of Swift's object expirer: what ``X-Delete-At`` has made
        due is removed (from listings too). The container updater first: the
        object server queued each ``X-Delete-At`` in a container of the hidden
        ``.expiring_objects`` account, which only the updater reports to the
        account listing the expirer walks."""
        etc = self.root / "etc"
        python = swift_venv() / "bin" / "python"
        for daemon, conf in (
            ("swift.container.updater.ContainerUpdater", "container-server.conf"),
            ("swift.obj.expirer.ObjectExpirer", "object-expirer.conf"),
        ):
            subprocess.run(
                [str(python), "-I", "-c", RUN_ONCE, str(etc), daemon, str(etc / conf)],
                check=True,
                timeout=60,
                capture_output=True,
            )

    def v1_config(self, **extra: Any) -> dict[str, Any]:
        """v1 auth: the driver authenticates (and re-authenticates) itself."""
        return {
            "os_auth_url": self.auth_url,
            "os_username": self.user,
            "os_password": self.key,
            **extra,
        }


def _write_configs(
    etc: Path,
    devices: Path,
    ports: dict[str, int],
    log_port: int,
    max_file_size: int = MAX_FILE_SIZE,
    max_segments: int = MAX_SEGMENTS,
    listing_limit: int | None = None,
) -> None:
    user = pwd.getpwuid(os.getuid()).pw_name  # Swift's default "swift" user does not exist
    common = (
        f"swift_dir = {etc}\nbind_ip = 127.0.0.1\nuser = {user}\nworkers = 0\n"
        # no /dev/log here: syslog goes to a UDP port nobody listens on, and
        # -v sends the real log to the launcher's output
        f"log_udp_host = 127.0.0.1\nlog_udp_port = {log_port}\n"
    )
    (etc / "swift.conf").write_text(
        "[swift-hash]\nswift_hash_path_prefix = bb\nswift_hash_path_suffix = bb\n\n"
        "[storage-policy:0]\nname = Policy-0\ndefault = yes\n\n"
        f"[swift-constraints]\nmax_file_size = {max_file_size}\n"
        + "".join(
            f"{kind}_listing_limit = {listing_limit}\n"
            for kind in ("container", "account")
            if listing_limit is not None
        )
    )
    for server in ("object", "container", "account"):
        (etc / f"{server}-server.conf").write_text(
            f"[DEFAULT]\n{common}devices = {devices}\nmount_check = false\n"
            f"disable_fallocate = true\nbind_port = {ports[server]}\n\n"
            f"[pipeline:main]\npipeline = {server}-server\n\n"
            f"[app:{server}-server]\nuse = egg:swift#{server}\n\n"
            # run once by SwiftServer.expire()
            f"[{server}-updater]\nrecon_cache_path = {etc}\n"
        )
    _write_expirer_config(etc, common)
    fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    # pipeline section name -> egg name (only proxy-logging differs)
    filters = {name: name for name in ("catch_errors", "gatekeeper", "healthcheck")}
    filters |= {"proxy-logging": "proxy_logging", "listing_formats": "listing_formats"}
    filters |= {name: name for name in ("bulk", "tempurl", "copy", "slo", "dlo")}
    # memo_cache: memcached's part (tests/servers/swift_addons/bb_memo_cache.py)
    pipeline = "catch_errors gatekeeper healthcheck proxy-logging memo_cache listing_formats"
    pipeline += " bulk tempurl tempauth copy slo dlo proxy-logging proxy-server"
    sections = "".join(
        f"[filter:{name}]\nuse = egg:swift#{egg}\n\n" for name, egg in filters.items()
    )
    # 1000 segments per manifest on a real cluster: 2 here, so that a
    # 3-part upload proves the nested manifests 1001 parts would need
    sections = sections.replace(
        "use = egg:swift#slo\n", f"use = egg:swift#slo\nmax_manifest_segments = {max_segments}\n"
    )
    # a DLO's GET sleeps a second a segment past its tenth (a cluster's
    # throttle, not a rule a client sees): never here
    sections = sections.replace(
        "use = egg:swift#dlo\n", "use = egg:swift#dlo\nrate_limit_segments_per_sec = 0\n"
    )
    (etc / "proxy-server.conf").write_text(
        f"[DEFAULT]\n{common}bind_port = {ports['proxy']}\n\n"
        f"[pipeline:main]\npipeline = {pipeline}\n\n"
        "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n"
        # one storage node: never error-limit it (one 507 would turn every
        # request into a 503 for 60 s)
        "error_suppression_interval = 0\nerror_suppression_limit = 1000000\n\n"
        f"{sections}"
        "[filter:memo_cache]\npaste.filter_factory = bb_memo_cache:filter_factory\n\n"
        "[filter:tempauth]\nuse = egg:swift#tempauth\n"
        f"user_test_tester = {KEY} .admin\nuser_test2_tester2 = testing2 .admin\n"
        f"token_life = 86400\nfernet_key_1 = {fernet_key}\nactive_fernet_key_id = 1\n"
    )


def _write_expirer_config(etc: Path, common: str) -> None:
    """Swift's object expirer, run once on demand (:meth:`SwiftServer.expire`),
    not as a daemon: a cluster without one is what the tests see, and a test
    runs it to see what a cluster with one does. In its legacy config file
    (the name says "expirer") it dequeues the queue the object server fills
    and reads its internal client's pipeline from the same file."""
    (etc / "object-expirer.conf").write_text(
        f"[DEFAULT]\n{common}\n[object-expirer]\nrecon_cache_path = {etc}\n\n"
        "[pipeline:main]\npipeline = catch_errors proxy-logging proxy-server\n\n"
        "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
        "[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n"
        "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n"
    )


RUN_ONCE = """\
import importlib, sys
from swift.common import utils
from swift.common.daemon import run_daemon
utils.set_swift_dir(sys.argv[1])
module, _, name = sys.argv[2].rpartition(".")
run_daemon(getattr(importlib.import_module(module), name), sys.argv[3], once=True, verbose=True)
"""


def _ready(server: SwiftServer, ports: dict[str, int]) -> bool:
    """Every backend answers (a HEAD of a missing entity is a 404: the proxy
    issues tokens before the others listen) and a container can be made."""
    try:
        for path, port in (("a/c/o", ports["object"]), ("a/c", ports["container"])):
            if requests.head(f"http://127.0.0.1:{port}/d1/0/{path}", timeout=2).status_code != 404:
                return False
        if (
            requests.head(f"http://127.0.0.1:{ports['account']}/d1/0/a", timeout=2).status_code
            != 404
        ):
            return False
        storage_url, token = server.auth()
        probe = f"{storage_url}/ready-{uuid.uuid4().hex[:8]}"
        made = requests.put(probe, headers={"X-Auth-Token": token}, timeout=5)
        requests.delete(probe, headers={"X-Auth-Token": token}, timeout=5)
        return made.status_code in (201, 202)
    except requests.RequestException:
        return False


@contextmanager
def start_swift(
    root: Path,
    *,
    max_file_size: int = MAX_FILE_SIZE,
    max_segments: int = MAX_SEGMENTS,
    listing_limit: int | None = None,
) -> Iterator[SwiftServer]:
    """Run the all-in-one Swift with its configs, rings and data under ``root``
    (bench/ passes Swift's production limits: 5 GiB + 2 bytes, 1000).
    ``listing_limit``: the most names a container or account listing page
    holds (Swift's default 10,000), lowered for a cluster configured so."""
    python = swift_venv() / "bin" / "python"
    if not (swift_venv() / "bin" / "swift-proxy-server").is_file():
        raise ServerStartError(f"Swift is not installed in {swift_venv()}: run {INSTALL_HINT}")
    etc, devices = root / "etc", root / "node"
    etc.mkdir(parents=True)
    (devices / "d1").mkdir(parents=True)
    object_port, container_port, account_port, proxy_port, log_port = free_ports(5)
    ports = {
        "object": object_port,
        "container": container_port,
        "account": account_port,
        "proxy": proxy_port,
    }
    _write_configs(etc, devices, ports, log_port, max_file_size, max_segments, listing_limit)
    proxy_url = f"http://127.0.0.1:{proxy_port}"
    server = SwiftServer(proxy_url, f"{proxy_url}/auth/v1.0", USER, KEY, root)
    # -I: the launcher's folder holds this module, named like the swift package
    command = [
        str(python),
        "-I",
        str(LAUNCHER),
        str(etc),
        *map(str, (object_port, container_port, account_port)),
    ]
    with run_server("Swift", command, log=root / "swift.log", ready=lambda: _ready(server, ports)):
        yield server


BACKEND = ServerBackend(
    "swift_server", "openstack_swift", start_swift, ProviderList.OPENSTACK, UNENFORCED
)

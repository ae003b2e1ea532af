"""Where the S3 settings come from: the config dict, the upper-cased
environment variable, the config file; ``False`` is a value, not "unset"."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import (
    Bucket,
    CloudProvider,
    CloudProviderFactory,
    InvalidConfigurationException,
    ProviderConnectionException,
    ProviderList,
)
from tests.s3.conftest import unique_bucket_name
from tests.servers.seaweedfs import S3Server

ENV_KEYS = ("AWS_ACCESS_KEY", "AWS_SECRET_KEY", "S3_ENDPOINT_URL", "AWS_REGION_NAME")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", str(tmp_path / "absent.ini"))
    return monkeypatch


def _round_trip(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create(unique_bucket_name())
    try:
        bucket.objects.create("k").upload(b"v")
        assert bucket.objects.get("k") is not None
    finally:
        bucket.delete(delete_contents=True)


def test_settings_from_the_environment(
    seaweedfs_server: S3Server, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AWS_ACCESS_KEY", seaweedfs_server.access_key)
    clean_env.setenv("AWS_SECRET_KEY", seaweedfs_server.secret_key)
    clean_env.setenv("S3_ENDPOINT_URL", seaweedfs_server.endpoint_url)
    with CloudProviderFactory().create_provider(ProviderList.AWS, {}) as provider:
        _round_trip(provider)


def test_settings_from_the_config_file(
    seaweedfs_server: S3Server, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text(
        "[aws]\n"
        f"aws_access_key = {seaweedfs_server.access_key}\n"
        f"aws_secret_key = {seaweedfs_server.secret_key}\n"
        f"s3_endpoint_url = {seaweedfs_server.endpoint_url}\n"
        "s3_addressing_style = path\n"
    )
    clean_env.setenv("BUCKETBRIDGE_CONFIG", str(ini))
    with CloudProviderFactory().create_provider(ProviderList.AWS) as provider:
        _round_trip(provider)


def test_the_dict_wins_over_the_environment(
    seaweedfs_server: S3Server, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing there
    clean_env.setenv("AWS_SECRET_KEY", "wrong")
    with CloudProviderFactory().create_provider(
        ProviderList.AWS, seaweedfs_server.config()
    ) as provider:
        _round_trip(provider)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"aws_access_key": "AKIDONLY"}, "aws_secret_key is not set"),
        ({"aws_secret_key": "only-the-secret"}, "aws_access_key is not set"),
        ({"s3_addressing_style": "sideways"}, "s3_addressing_style"),
        ({"s3_endpoint_url": "not a url"}, "s3_endpoint_url"),
        ({"s3_validate_certs": "perhaps"}, "s3_validate_certs"),
    ],
)
def test_bad_settings_are_configuration_errors(
    clean_env: pytest.MonkeyPatch, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidConfigurationException, match=message) as refused:
        CloudProviderFactory().create_provider(ProviderList.AWS, config)
    assert "only-the-secret" not in str(refused.value)


@pytest.fixture
def https_endpoint(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server with a self-signed certificate, answering every request
    with S3's 503 SlowDown: enough to tell whether the certificate was checked."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<Error><Code>SlowDown</Code><Message>busy</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("validate", [False, "false", 0, "0"])
def test_validate_certs_false_is_honoured(
    https_endpoint: str,
    clean_env: pytest.MonkeyPatch,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    validate: object,
) -> None:
    config = {"aws_access_key": "AKIDX", "aws_secret_key": "s", "s3_endpoint_url": https_endpoint}
    checked = make_provider(config)
    with pytest.raises(ProviderConnectionException, match="certificate"):
        Bucket(checked, "s3t-busy").objects.list()
    unchecked = make_provider({**config, "s3_validate_certs": validate})
    # past TLS, the server's own answer comes through
    with pytest.raises(ProviderConnectionException, match="SlowDown"):
        Bucket(unchecked, "s3t-busy").objects.list()

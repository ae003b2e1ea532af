"""Refused credentials on SeaweedFS, which enforces SigV4 signatures: the
error is PermissionDeniedException, says which config key to check, may name
the access key id and never shows the secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, PermissionDeniedException
from bucketbridge.drivers.s3.errors import ErrorResponse, error_code
from tests.servers.seaweedfs import S3Server

WRONG_SECRET = "not-the-secret-8d1f0c"


def test_wrong_secret_is_refused_and_the_hint_names_the_secret_key(
    seaweedfs_server: S3Server,
    seaweed_bucket: Bucket,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
) -> None:
    seaweed_bucket.objects.create("kept.txt").upload(b"kept")
    intruder = make_provider(seaweedfs_server.config(aws_secret_key=WRONG_SECRET))
    with pytest.raises(PermissionDeniedException) as refused:
        intruder.storage.buckets.create("s3t-never-made")
    message = str(refused.value)
    assert "aws_secret_key" in message
    assert seaweedfs_server.access_key in message  # the key id may be named ...
    assert WRONG_SECRET not in message and seaweedfs_server.secret_key not in message
    # the server's answer is the cause, whichever plane sent the request
    cause = refused.value.__cause__
    assert isinstance(cause, ErrorResponse)
    assert error_code(cause) == "SignatureDoesNotMatch"

    # every kind of call is refused the same way, HEADs included (their 403
    # has no body, so the driver asks again to learn why)
    calls: list[Callable[[], object]] = [
        lambda: intruder.storage.buckets.get(seaweed_bucket.name),
        lambda: intruder.storage.buckets.list(),
        lambda: Bucket(intruder, seaweed_bucket.name).objects.get("kept.txt"),
        lambda: Bucket(intruder, seaweed_bucket.name).objects.list(),
        lambda: Bucket(intruder, seaweed_bucket.name).objects.create("x").upload(b"x"),
        lambda: b"".join(
            Bucket(intruder, seaweed_bucket.name).objects.create("kept.txt").iter_content()
        ),
    ]
    for call in calls:
        with pytest.raises(PermissionDeniedException, match="aws_secret_key") as again:
            call()
        assert WRONG_SECRET not in str(again.value)
    assert seaweed_bucket.objects.get("x") is None


def test_unknown_access_key_is_refused_naming_the_access_key(
    seaweedfs_server: S3Server, make_provider: Callable[[dict[str, Any]], CloudProvider]
) -> None:
    stranger = make_provider(seaweedfs_server.config(aws_access_key="AKIDNOBODYKNOWS"))
    with pytest.raises(PermissionDeniedException) as refused:
        stranger.storage.buckets.list()
    message = str(refused.value)
    assert "AKIDNOBODYKNOWS" in message and "aws_access_key" in message
    assert seaweedfs_server.secret_key not in message
    with pytest.raises(PermissionDeniedException, match="aws_access_key"):
        stranger.storage.buckets.get("s3t-anything")


def test_secrets_never_show_in_reprs(
    seaweedfs_server: S3Server, make_provider: Callable[[dict[str, Any]], CloudProvider]
) -> None:
    provider = make_provider(seaweedfs_server.config(aws_session_token="TOKEN-THAT-MUST-NOT-SHOW"))
    shown = " ".join(
        [
            repr(provider),
            repr(provider.config),
            str(provider.config),
            repr(provider.driver),
            repr(getattr(provider.driver, "_settings", "")),
        ]
    )
    assert seaweedfs_server.secret_key not in shown
    assert "TOKEN-THAT-MUST-NOT-SHOW" not in shown

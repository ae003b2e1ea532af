"""The signers' HMAC with pre-hashed pads (dataplane/signing.py) is HMAC-SHA256."""

from __future__ import annotations

import hmac

import pytest

from bucketbridge.dataplane.signing import HmacSha256


@pytest.mark.parametrize("length", [0, 1, 32, 63, 64, 65, 200])
def test_pads_give_hmac_sha256_for_every_key_length(length: int) -> None:
    key = bytes(range(7, 7 + length)) if length < 200 else b"k" * length
    pads = HmacSha256(key)
    for message in (b"", b"GET\n/x\n", "é日本".encode() * 50):
        expected = hmac.new(key, message, "sha256")
        assert pads.digest(message) == expected.digest()  # twice: the pads are reused
        assert pads.hexdigest(message) == expected.hexdigest()
    assert "secret" not in repr(HmacSha256(b"secret"))

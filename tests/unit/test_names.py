"""The name rules: each reserved or unsafe form refused, each allowed edge accepted."""

from __future__ import annotations

import re

import pytest

from bucketbridge import InvalidNameException
from bucketbridge.names import validate_bucket_name, validate_object_key
from tests.name_cases import (
    ACCEPTED_BUCKET_NAMES,
    ACCEPTED_OBJECT_NAMES,
    REFUSED_BUCKET_NAMES,
    REFUSED_OBJECT_NAMES,
)


@pytest.mark.parametrize("name", REFUSED_BUCKET_NAMES, ids=REFUSED_BUCKET_NAMES.values())
def test_reserved_and_unsafe_bucket_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameException) as raised:
        validate_bucket_name(name)
    message = str(raised.value)
    assert repr(name) in message
    assert "lowercase letters" in message or "google" in message  # says what is allowed


@pytest.mark.parametrize("name", [*ACCEPTED_BUCKET_NAMES, "abc", "a" * 63, "z9-" * 20 + "end"])
def test_names_near_the_reserved_forms_are_accepted(name: str) -> None:
    assert validate_bucket_name(name) == name


@pytest.mark.parametrize("name", [None, 5, b"bytes-name", "ab", "a" * 64, "Upper", "end-"])
def test_bucket_names_of_wrong_type_or_shape_are_refused(name: object) -> None:
    with pytest.raises(InvalidNameException, match="3-63 lowercase letters"):
        validate_bucket_name(name)


@pytest.mark.parametrize(
    "key",
    REFUSED_OBJECT_NAMES,
    ids=[f"{i}-{why}" for i, why in enumerate(REFUSED_OBJECT_NAMES.values())],
)
def test_unsafe_object_names_are_refused(key: str) -> None:
    with pytest.raises(InvalidNameException) as raised:
        validate_object_key(key)
    message = str(raised.value)
    assert message.startswith("object name ")
    assert repr(key)[:40] in message  # names the key (long ones by their start)


@pytest.mark.parametrize("key", ACCEPTED_OBJECT_NAMES, ids=range(len(ACCEPTED_OBJECT_NAMES)))
def test_object_names_at_the_edges_are_accepted(key: str) -> None:
    assert validate_object_key(key) == key


@pytest.mark.parametrize("key", [None, 5, b"bytes", ""])
def test_object_names_must_be_non_empty_strings(key: object) -> None:
    with pytest.raises(InvalidNameException, match="non-empty string"):
        validate_object_key(key)


def test_messages_say_why_and_what_is_allowed() -> None:
    cases = {
        "../escape": "'..' segment",
        "/abs": "must not start or end with '/'",
        "a//b": "hold '//'",
        "name.": "ends with '.'",
        "a\\b": "backslash",
        "tab\there": "U+0009",
        "x" * 256: "at most 255",
        "/".join(["a" * 200] * 6): "at most 1024",
        "/".join(["a"] * 255): "at most 254",
        ".bucketbridge/x": "reserved",
        ".well-known/acme-challenge/x": "GCS",
    }
    for key, expected in cases.items():
        with pytest.raises(InvalidNameException, match=re.escape(expected)):
            validate_object_key(key)
    with pytest.raises(InvalidNameException, match="reserved by S3"):
        validate_bucket_name("xn--abc")
    with pytest.raises(InvalidNameException, match="consecutive hyphens"):
        validate_bucket_name("data--two")

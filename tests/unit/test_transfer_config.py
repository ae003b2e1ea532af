"""TransferConfig is checked when it is built, naming the parameter the user typed."""

from __future__ import annotations

import pytest

from bucketbridge import InvalidConfigurationException, InvalidValueException, TransferConfig
from bucketbridge.config import CONNECTION_SETTINGS, CORE_SETTINGS, Setting, resolve
from bucketbridge.transfer import TransferPlan

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"part_size": 1}, "part_size"),
        ({"part_size": 5 * MiB - 1}, "part_size"),
        ({"part_size": 0}, "part_size"),
        ({"part_size": "8MiB"}, "part_size"),
        ({"part_size": 8.0 * MiB}, "part_size"),
        ({"part_size": True}, "part_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": -3}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"max_concurrency": False}, "max_concurrency"),
        ({"threshold": -1}, "threshold"),
        ({"threshold": "big"}, "threshold"),
        ({"threshold": None, "part_size": [5 * MiB]}, "part_size"),
    ],
)
def test_bad_values_are_refused_when_built(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidValueException) as raised:
        TransferConfig(**kwargs)  # type: ignore[arg-type]
    assert raised.value.param == param
    assert "multipart" not in str(raised.value)  # never a config key the user did not type


def test_edges_are_accepted_and_read_only() -> None:
    config = TransferConfig(threshold=0, part_size=5 * MiB, max_concurrency=1)
    assert (config.threshold, config.part_size, config.max_concurrency) == (0, 5 * MiB, 1)
    with pytest.raises(AttributeError):
        config.part_size = 1  # type: ignore[misc]
    assert TransferConfig().part_size is None


def test_a_config_that_is_not_a_transfer_config_is_named() -> None:
    settings = resolve("local", {}, CORE_SETTINGS + CONNECTION_SETTINGS)
    with pytest.raises(InvalidValueException, match="config"):
        TransferPlan.resolve({"part_size": 1}, settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("multipart_part_size", "1"),
        ("multipart_part_size", 5 * MiB - 1),
        ("multipart_max_concurrency", "0"),
        ("multipart_threshold", -1),
        ("multipart_threshold", "lots"),
        ("max_attempts", 0),
        ("read_timeout", 0),
        ("multiplex_window", 0),
        ("multiplex_window", "wide"),
    ],
)
def test_config_keys_are_checked_when_the_provider_is_made(key: str, value: object) -> None:
    with pytest.raises(InvalidConfigurationException, match=key):
        resolve("local", {key: value}, CORE_SETTINGS + CONNECTION_SETTINGS)


def test_an_explicit_transfer_config_wins_over_the_keys() -> None:
    settings = resolve(
        "local", {"multipart_max_concurrency": 3}, CORE_SETTINGS + CONNECTION_SETTINGS
    )
    assert TransferPlan.resolve(None, settings).max_concurrency == 3
    assert TransferPlan.resolve(TransferConfig(max_concurrency=2), settings).max_concurrency == 2


def test_a_driver_key_that_repeats_a_core_key_is_refused() -> None:
    shadowing = Setting("read_timeout", int, 5)
    with pytest.raises(InvalidConfigurationException, match="read_timeout"):
        resolve("local", {}, (*CORE_SETTINGS, *CONNECTION_SETTINGS, shadowing))


def test_concurrency_is_capped_at_the_connection_pool() -> None:
    """More threads than pooled connections would open and drop a connection
    per request (urllib3's "Connection pool is full")."""
    default = resolve("local", {}, CORE_SETTINGS + CONNECTION_SETTINGS)
    assert TransferPlan.resolve(TransferConfig(max_concurrency=64), default).max_concurrency == 32
    wide = resolve("local", {"multipart_max_concurrency": 64}, CORE_SETTINGS + CONNECTION_SETTINGS)
    assert TransferPlan.resolve(TransferConfig(max_concurrency=64), wide).max_concurrency == 64

"""bucketbridge.redaction on fake SDK loggers: every child logger, those made
after the redaction was installed included, loses the registered secrets and
the derived ones; other loggers and secretless records are left alone; one
provider forgetting its secrets never uncovers another's."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketbridge import CloudProviderFactory, ProviderList
from bucketbridge import redaction as redaction_module
from bucketbridge.config import Setting, resolve
from bucketbridge.redaction import SecretRegistry

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCY=secret"


class _Records(logging.Handler):
    """The records that reach a user's root handler, and their formatted text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(self.format(record))


@pytest.fixture(autouse=True)
def _record_factory_put_back() -> Iterator[None]:
    """Each test's registry wraps the process's record factory: unwrap it."""
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


@pytest.fixture
def captured() -> Iterator[_Records]:
    """A handler on the root logger, as a user's own would be."""
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def _new_logger(namespace: str = "fakesdk") -> logging.Logger:
    """A logger that did not exist before the test: a fresh child name."""
    name = f"{namespace}.{uuid.uuid4().hex}.child"
    assert name not in logging.Logger.manager.loggerDict
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    return logger


def test_a_child_logger_made_after_install_is_redacted(captured: _Records) -> None:
    registry = SecretRegistry({"fakesdk"})
    registry.register([SECRET])
    logger = _new_logger()
    logger.debug("sending %s with token=%s", "GET", SECRET)
    logging.getLogger("fakesdk").getChild("deep.er").warning(f"inline {SECRET}")

    assert captured.texts == ["sending GET with token=***", "inline ***"]
    assert captured.records[0].args is None


def test_a_filter_on_the_parent_logger_would_not_have_been_enough(captured: _Records) -> None:
    """The premise of the module: a parent logger's filter never sees its
    children's records, so redaction cannot live there."""
    seen: list[str] = []

    def note(record: logging.LogRecord) -> bool:
        seen.append(record.name)
        return True

    parent = logging.getLogger("fakesdk")
    parent.addFilter(note)
    try:
        _new_logger().debug("from a child")
    finally:
        parent.filters.clear()
    assert captured.texts == ["from a child"] and seen == []


def test_other_loggers_and_secretless_records_are_untouched(captured: _Records) -> None:
    registry = SecretRegistry({"fakesdk"})
    registry.register([SECRET])
    args = ("GET", 200)
    _new_logger().debug("%s answered %d", *args)
    _new_logger("otherlib").debug("mine: %s", SECRET)
    _new_logger("fakesdkish").debug("mine too: %s", SECRET)

    first, other, lookalike = captured.records
    assert (first.msg, first.args) == ("%s answered %d", args)
    assert (other.msg, other.args) == ("mine: %s", (SECRET,))
    assert captured.texts[1:] == [f"mine: {SECRET}", f"mine too: {SECRET}"]
    assert lookalike.name.startswith("fakesdkish.")


def test_every_spelling_of_a_value_is_redacted() -> None:
    registry = SecretRegistry({"fakesdk"})
    value = 'a+b/c=d "quoted" back\\slash\nnext line'
    registry.register([value])
    for spelling in (
        value,
        "a%2Bb%2Fc%3Dd%20%22quoted%22%20back%5Cslash%0Anext%20line",  # in a query
        "a%2bb%2fc%3dd%20%22quoted%22%20back%5cslash%0anext%20line",  # lower-case escapes
        "a%2Bb/c%3Dd%20%22quoted%22%20back%5Cslash%0Anext%20line",  # in a path
        "a%2Bb%2Fc%3Dd+%22quoted%22+back%5Cslash%0Anext+line",  # form-encoded
        repr(value)[1:-1],
        repr(value.encode())[2:-1],
        '"a+b/c=d \\"quoted\\" back\\\\slash\\nnext line"',  # JSON
    ):
        assert "***" in registry.redact(spelling), spelling
        assert "quoted" not in registry.redact(spelling), spelling


@pytest.mark.parametrize(
    ("logged", "shown"),
    [
        (
            "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101"
            "&X-Amz-Security-Token=FQoG%2Fzz&X-Amz-Signature=0a1b2c HTTP/1.1",
            "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101"
            "&X-Amz-Security-Token=***&X-Amz-Signature=*** HTTP/1.1",
        ),
        (
            "https://acct.blob.core.windows.net/c/b?sv=2024-05-04&sp=r&sig=AbC%2Bd%3D&se=x",
            "https://acct.blob.core.windows.net/c/b?sv=2024-05-04&sp=r&sig=***&se=x",
        ),
        (
            "/v1/AUTH_a/c/o?temp_url_sig=9f8e&temp_url_expires=1",
            "/v1/AUTH_a/c/o?temp_url_sig=***&temp_url_expires=1",
        ),
        ("?X-Goog-Signature=abcd&X-Goog-Date=1", "?X-Goog-Signature=***&X-Goog-Date=1"),
        (
            "AccountName=a;AccountKey=bWFkZS11cA==;EndpointSuffix=core.windows.net",
            "AccountName=a;AccountKey=***;EndpointSuffix=core.windows.net",
        ),
        (
            "headers={'X-Amz-Date': b'20260101T000000Z', 'Authorization': b'AWS4-HMAC-SHA256"
            " Credential=AKIA/x, SignedHeaders=host, Signature=ff00'}",
            "headers={'X-Amz-Date': b'20260101T000000Z', 'Authorization': b'***'}",
        ),
        ("{'X-Amz-Security-Token': 'it\\'s'}", "{'X-Amz-Security-Token': '***'}"),
        (
            '{"access_token": "ya29.a0", "expires_in": 3599}',
            '{"access_token": "***", "expires_in": 3599}',
        ),
        ("Authorization: Bearer ya29.a0\nHost: x", "Authorization: ***\nHost: x"),
        ('curl -H "X-Auth-Token: AUTH_tk12" http://x', 'curl -H "X-Auth-Token: ***" http://x'),
        ("'Authorization': b'cut off before the quote", "'Authorization': ***"),
        (
            "x-amz-date:20260101T000000Z\nx-amz-security-token:FQoG/zz+y=\n\nhost;x-amz-security-token",
            "x-amz-date:20260101T000000Z\nx-amz-security-token:***\n\nhost;x-amz-security-token",
        ),
        ("Signature:\n0a1b2c3d", "Signature:\n***"),
        (
            '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEv\\n-----END PRIVATE KEY-----\\n"}',
            '{"private_key": "***"}',
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEv\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----***-----END RSA PRIVATE KEY-----",
        ),
        # what is no secret stays readable
        ("SignedHeaders=host;x-amz-security-token", "SignedHeaders=host;x-amz-security-token"),
        (
            "x-amz-server-side-encryption-customer-key-MD5: abc=",
            "x-amz-server-side-encryption-customer-key-MD5: abc=",
        ),
        ("X-Amz-SignedHeaders=host&design=1", "X-Amz-SignedHeaders=host&design=1"),
    ],
)
def test_derived_secrets_are_redacted(logged: str, shown: str) -> None:
    registry = SecretRegistry({"fakesdk"})
    registry.register([])
    assert registry.redact(logged) == shown
    assert registry.redact(shown) == shown  # redacting twice changes nothing


def test_one_provider_forgetting_never_uncovers_another(captured: _Records) -> None:
    registry = SecretRegistry({"fakesdk"})
    shared_by_a = registry.register([SECRET, "alpha-only-secret"])
    shared_by_b = registry.register([SECRET])
    logger = _new_logger()

    shared_by_a.forget()
    shared_by_a.forget()  # twice is harmless
    logger.debug("%s %s", SECRET, "alpha-only-secret")
    shared_by_b.forget()
    logger.debug("%s", SECRET)
    logger.debug("X-Amz-Signature=0a1b")

    assert captured.texts == [
        "*** alpha-only-secret",
        SECRET,
        "X-Amz-Signature=0a1b",  # with no provider open, nothing is touched
    ]


def test_a_traceback_holding_a_secret_is_redacted(captured: _Records) -> None:
    registry = SecretRegistry({"fakesdk"})
    registry.register([SECRET])
    try:
        raise ValueError(f"bad credential {SECRET}")
    except ValueError:
        _new_logger().debug("request failed", exc_info=True, stack_info=True)

    (record,) = captured.records
    assert record.exc_info is None
    assert "ValueError: bad credential ***" in captured.texts[0]
    assert SECRET not in captured.texts[0]
    assert "Stack (most recent call last)" in captured.texts[0]


def test_args_that_are_never_formatted_are_dropped(captured: _Records) -> None:
    registry = SecretRegistry({"fakesdk"})
    registry.register([SECRET])
    logger = _new_logger()
    logger.debug("%(method)s", {"method": "GET", "token": SECRET})
    logger.debug("%d", SECRET)  # a broken format: the args must not reach the handler

    assert [(r.msg, r.args) for r in captured.records] == [("GET", None), ("%d", None)]


def test_no_work_when_the_record_is_never_made(
    captured: _Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = SecretRegistry({"fakesdk"})
    registry.register([SECRET])
    scrubbed: list[str] = []
    monkeypatch.setattr(redaction_module, "_scrub", lambda record, _: scrubbed.append(record.msg))
    logger = _new_logger()
    logger.setLevel(logging.INFO)
    logger.debug("not made: %s", SECRET)
    logger.info("made")
    assert scrubbed == ["made"]


def test_a_factory_that_does_not_chain_is_wrapped_again_on_the_next_register(
    captured: _Records,
) -> None:
    registry = SecretRegistry({"fakesdk"})
    registry.register([SECRET])
    logging.setLogRecordFactory(logging.LogRecord)
    logger = _new_logger()
    logger.debug(SECRET)
    registry.register([])
    logger.debug(SECRET)
    assert captured.texts == [SECRET, "***"]


def test_values_too_short_are_not_redacted_and_padding_is_stripped() -> None:
    registry = SecretRegistry({"fakesdk"})
    registry.register(["abc", "", "  padded-secret\n"])
    assert registry.redact("abc") == "abc"
    assert registry.redact("sent padded-secret") == "sent ***"


# --- wiring: CloudProviderFactory registers, CloudProvider.close forgets ---


def test_provider_secrets_from_every_source_are_redacted_until_closed(
    captured: _Records, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "config.ini"
    config_file.write_text("[aws]\naws_secret_key = from-the-file-secret\n")
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", str(config_file))
    monkeypatch.setenv("AWS_SESSION_TOKEN", "from-the-environment-secret")
    values = ["from-the-dict-secret", "from-the-environment-secret", "from-the-file-secret"]

    first = CloudProviderFactory().create_provider(
        ProviderList.AWS, {"aws_access_key": "AKID", "aws_secret_key": "from-the-dict-secret"}
    )
    second = CloudProviderFactory().create_provider(ProviderList.AWS, {"aws_access_key": "AKID"})
    logger = _new_logger("botocore")
    logger.debug(" ".join(values))
    first.close()
    logger.debug(" ".join(values))
    second.close()
    logger.debug(" ".join(values))

    assert captured.texts == [
        "*** *** ***",
        "from-the-dict-secret *** ***",  # the second provider still holds the others
        " ".join(values),
    ]


def test_secret_values_come_from_every_source_and_only_secret_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "config.ini"
    config_file.write_text("[gcp]\ngcp_client_secret = file-secret\ngcp_project = not-secret\n")
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", str(config_file))
    monkeypatch.setenv("OS_AUTH_TOKEN", "env-token")
    monkeypatch.setenv("SOMEONE_ELSES_TOKEN", "not-ours")
    declared = [
        Setting("gcp_service_creds_dict", dict, secret=True),
        Setting("gcp_client_secret", str, secret=True),
        Setting("os_auth_token", str, secret=True),
        Setting("gcp_project", str),
        Setting("aws_region_name", str),
    ]
    settings = resolve(
        "gcp",
        {
            "gcp_service_creds_dict": {
                "client_email": "me@example.iam",
                "private_key": "-----BEGIN PRIVATE KEY-----x",
                "client_secret": "oauth-secret",
            },
            "aws_region_name": "eu-west-1",
        },
        declared,
    )
    assert sorted(settings.secret_values()) == sorted(
        ["-----BEGIN PRIVATE KEY-----x", "oauth-secret", "env-token", "file-secret"]
    )

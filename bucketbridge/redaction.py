"""Keeps the secrets bucketbridge hands to the SDKs out of the SDKs' log records.

At DEBUG, botocore logs every signed request: its headers (the session token,
the ``Authorization`` signature), the canonical request and the signature
itself. The user asked for DEBUG logs, not for their credentials in them; the
library is what gives the SDK those credentials, so it hides them again.

Why a log-record factory and not a ``logging.Filter``: a filter added to the
logger ``botocore`` never sees the records of ``botocore.endpoint`` or
``botocore.auth`` (logger filters run only on the logger a record is made on;
propagation to the parents' *handlers* skips the parents' filters), and the
handlers belong to the user, not to us. Putting a filter on every existing
logger of the namespaces misses the loggers the SDKs create later, and there
is no public hook for "a logger was created". The record factory
(``logging.setLogRecordFactory``) is the one place every logger's records pass
through, whatever the logger and whenever it was made, and it runs only after
``Logger.isEnabledFor`` said yes: when DEBUG is off, ``log.debug(...)`` makes no
record and none of this code runs. The factory is wrapped, not replaced, so a
factory installed before us keeps working; one installed after us that does not
chain to ours is caught by installing again on the next ``register_secrets``.

What is redacted, in records of the SDK loggers only (:data:`SDK_LOGGERS`):

- every registered value, as given and as it shows in URLs (percent-encoded),
  in ``repr`` and in JSON;
- what is as good as a secret although nobody registered it: signatures and
  tokens in query strings (``X-Amz-Signature=``, ``X-Amz-Security-Token=``,
  SAS ``sig=``, ``temp_url_sig=``, ``X-Goog-Signature=``), the values of
  credential headers (``Authorization``, ``X-Amz-Security-Token``,
  ``X-Auth-Token``, ...), botocore's ``Signature:`` line, PEM private keys.
  These also cover credentials boto3 found on its own chain (environment,
  profile, instance role), whose values bucketbridge never sees.

A record that holds no secret is left exactly as it was (``msg``, ``args`` and
``exc_info`` intact, for structured handlers). A record that does gets its
message formatted and redacted into ``msg`` with ``args`` dropped, as
``QueueHandler.prepare`` does, and a traceback that holds one is rendered and
redacted into ``exc_text`` with ``exc_info`` dropped. Positional args are
judged by the formatted message they all appear in; a mapping's args, whose
unused keys do not appear, are checked themselves.

Cost: none while DEBUG is off. At DEBUG, a substring scan per registered
spelling and per keyword of each record of those loggers, and a regex only
over the few records that hold a keyword (botocore's signed request): on moto,
a HEAD request logged at DEBUG to a file took about 6% longer.

Each provider holds a :class:`SecretRegistration`; closing the provider
forgets its values, while any other open provider keeps its own (the same
value registered twice stays redacted until both are forgotten). With no
provider open, records pass through untouched.

Not covered: records built with ``logging.makeLogRecord`` (they are not made
by a logger), custom ``extra`` attributes, and values shorter than
:data:`MIN_SECRET_LENGTH` characters (redacting those would blank ordinary text
and hide nothing a guess would not find).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "***"
MIN_SECRET_LENGTH = 4

SDK_LOGGERS = frozenset(
    {
        "boto3",
        "botocore",
        "s3transfer",
        "urllib3",
        "requests",
        "azure",
        "google",
        "swiftclient",
        "keystoneauth1",
        # keystoneauth1 logs under this name (its _utils.get_logger renames it)
        "keystoneauth",
    }
)
"""Top-level logger names of the SDKs bucketbridge drives; their children are covered too."""

QUERY_SECRETS = (
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Goog-Signature",
    "temp_url_sig",
    "sig",
    "Signature",
    "AccountKey",
)
"""Query parameters (and connection-string fields) whose value is a credential."""

HEADER_SECRETS = (
    "Authorization",
    "Proxy-Authorization",
    "X-Amz-Security-Token",
    "X-Amz-Server-Side-Encryption-Customer-Key",
    "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key",
    "X-Ms-Encryption-Key",
    "X-Ms-Copy-Source-Authorization",
    "X-Auth-Token",
    "X-Auth-Key",
    "X-Storage-Token",
    "X-Storage-Pass",
    "X-Subject-Token",
    "X-Service-Token",
    "X-Account-Meta-Temp-URL-Key",
    "X-Account-Meta-Temp-URL-Key-2",
    "X-Container-Meta-Temp-URL-Key",
    "X-Container-Meta-Temp-URL-Key-2",
    # the same, as fields of JSON bodies (OAuth answers, service-account files)
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "private_key",
    "password",
)
"""Headers (and JSON fields) whose value is a credential."""


def _names(names: tuple[str, ...]) -> str:
    # Python's re tries every branch of an alternation at every position; a
    # lookahead on the names' first letters lets it skip ahead (about 3x faster)
    first_letters = "".join(sorted({name[0] for name in names}))
    alternation = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    return rf"(?=[{first_letters}])(?<![\w-])(?:{alternation})"


@dataclass(frozen=True)
class _Rule:
    """A pattern of derived secrets, tried only on text holding one of its
    lower-case ``keywords`` (most records hold none: a substring scan is cheap,
    an alternation of names is not)."""

    keywords: tuple[str, ...]
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]

    def apply(self, text: str, lowered: str) -> str:
        if any(keyword in lowered for keyword in self.keywords):
            return self.pattern.sub(self.replacement, text)
        return text


def _redact_header(match: re.Match[str]) -> str:
    quote_char = match.group("quote")
    if quote_char is None:
        return match.group("head") + REDACTED
    return match.group("head") + match.group("prefix") + quote_char + REDACTED + quote_char


_RULES = (
    _Rule(
        ("private key-----",),
        re.compile(
            r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.DOTALL
        ),
        rf"-----BEGIN \1PRIVATE KEY-----{REDACTED}-----END \1PRIVATE KEY-----",
    ),
    _Rule(
        tuple(f"{name.lower()}=" for name in QUERY_SECRETS),
        re.compile(rf"({_names(QUERY_SECRETS)})=[^&\s'\"<>,;#]+", re.IGNORECASE),
        rf"\1={REDACTED}",
    ),
    _Rule(
        # botocore.auth logs "Signature:" and the signature on the next line
        ("signature:",),
        re.compile(r"(?<![\w-])(Signature:[ \t]*\r?\n[ \t]*)[^\s'\"]+", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    _Rule(
        tuple(name.lower() for name in HEADER_SECRETS),
        re.compile(
            # the name, optionally quoted as in a dict's repr, then ':' and the
            # value: quoted (bytes repr included), bare up to a quote (curl's
            # -H "name: value"), or, when a quote is never closed, the rest of the line
            rf"(?P<head>{_names(HEADER_SECRETS)}['\"]?[ \t]*:[ \t]*)"
            r"(?:(?P<prefix>b?)(?P<quote>['\"])(?:\\.|(?!(?P=quote))[^\\\r\n])*(?P=quote)"
            r"|(?!b?['\"])[^\s'\"][^\r\n'\"]*"
            r"|[^\r\n]+)",
            re.IGNORECASE,
        ),
        _redact_header,
    ),
)


def _redact_derived(text: str) -> str:
    lowered = text.lower()
    for rule in _RULES:
        text = rule.apply(text, lowered)
    return text


_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _spellings(value: str) -> set[str]:
    """The forms a value takes in log text: as is, in a URL (with either case
    of escapes), in a repr, in JSON."""
    encoded = {quote(value, safe=""), quote(value, safe="/"), quote_plus(value)}
    encoded |= {_PERCENT_ESCAPE.sub(lambda m: m.group().lower(), form) for form in encoded}
    return {
        value,
        *encoded,
        repr(value)[1:-1],
        repr(value.encode("utf-8"))[2:-1],
        json.dumps(value)[1:-1],
    }


class _Redactor:
    """An immutable snapshot of what to redact: swapped whole, read without a lock."""

    def __init__(self, values: Iterable[str]) -> None:
        spellings = {form for value in values for form in _spellings(value)}
        # longest first, so a value that contains another is hidden whole
        self._literals = tuple(sorted(spellings, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        # substring scans, not a regex alternation: several times faster
        for literal in self._literals:
            if literal in text:
                text = text.replace(literal, REDACTED)
        return _redact_derived(text)


_traceback_renderer = logging.Formatter()


def _scrub(record: logging.LogRecord, redact: _Redactor) -> None:
    """Redact ``record`` in place; leave it untouched when it holds no secret."""
    args = record.args
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: the handler reports it, redacted
        message = str(record.msg)
        formatted = False
    else:
        formatted = True
    clean = redact(message)
    # Positional args all show in the formatted message; a mapping's unused
    # keys, or the args of a message that could not be formatted, do not.
    args_leak = False
    if args and (isinstance(args, Mapping) or not formatted):
        args_text = repr(args)
        args_leak = redact(args_text) != args_text
    if clean != message or args_leak:
        record.msg = clean
        record.args = None
    if record.exc_info and not record.exc_text:
        rendered = _traceback_renderer.formatException(record.exc_info)
        clean_traceback = redact(rendered)
        if clean_traceback != rendered:
            record.exc_text = clean_traceback
            record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class SecretRegistration:
    """One provider's secrets: redacted until :meth:`forget` is called."""

    def __init__(self, registry: SecretRegistry) -> None:
        self._registry: SecretRegistry | None = registry

    def forget(self) -> None:
        """Stop redacting these values (others' registrations of them stay)."""
        registry, self._registry = self._registry, None
        if registry is not None:
            registry._forget(self)


class SecretRegistry:
    """The values to keep out of the records of ``loggers`` and their children."""

    def __init__(self, loggers: Iterable[str] = SDK_LOGGERS) -> None:
        self._loggers = frozenset(loggers)
        self._lock = threading.Lock()
        self._live: dict[SecretRegistration, frozenset[str]] = {}
        self._active: _Redactor | None = None
        self._factory: Callable[..., logging.LogRecord] | None = None

    def register(self, values: Iterable[str]) -> SecretRegistration:
        """Redact ``values`` (and the derived secrets) until the registration is forgotten."""
        # drivers strip what they read from the config, so both forms reach the SDK
        forms = {form for value in values for form in (value, value.strip())}
        kept = frozenset(form for form in forms if len(form) >= MIN_SECRET_LENGTH)
        registration = SecretRegistration(self)
        with self._lock:
            self._live[registration] = kept
            self._rebuild()
            self._install()
        return registration

    def redact(self, text: str) -> str:
        """``text`` with every registered and derived secret replaced by ``***``."""
        active = self._active
        return active(text) if active is not None else text

    def _forget(self, registration: SecretRegistration) -> None:
        with self._lock:
            self._live.pop(registration, None)
            self._rebuild()

    def _rebuild(self) -> None:
        if self._live:
            self._active = _Redactor(frozenset().union(*self._live.values()))
        else:
            self._active = None

    def _install(self) -> None:
        current = logging.getLogRecordFactory()
        if current is self._factory:
            return
        loggers = self._loggers

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = current(*args, **kwargs)
            active = self._active
            if active is not None and record.name.partition(".")[0] in loggers:
                _scrub(record, active)
            return record

        self._factory = factory
        logging.setLogRecordFactory(factory)


_sdk_secrets = SecretRegistry()


def register_secrets(values: Iterable[str]) -> SecretRegistration:
    """Keep ``values`` out of the SDK loggers' records until the result is forgotten."""
    return _sdk_secrets.register(values)

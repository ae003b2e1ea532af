"""What the user typed: ``scheme://bucket/key``, a plain path, or ``-``.

Schemes are spelled as fsspec and the clouds' own command lines spell them.
An address only names a place; :class:`~.context.Context` turns it into a
provider with the settings of the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from .exits import UsageError

SCHEMES = {"local": "local", "s3": "aws", "az": "azure", "gs": "gcp", "swift": "openstack"}
SCHEME_OF = {provider: scheme for scheme, provider in SCHEMES.items()}
STDIO = "-"


@dataclass(frozen=True)
class Address:
    text: str
    provider_id: str | None = None  # None: a local file (or stdin/stdout)
    bucket: str = ""
    key: str = ""  # a key, or a prefix ("" or ending in "/")

    @property
    def remote(self) -> bool:
        return self.provider_id is not None

    @property
    def stdio(self) -> bool:
        return self.provider_id is None and self.text == STDIO

    @property
    def path(self) -> str:
        return self.text

    def child(self, name: str) -> Address:
        """The object ``name`` below this prefix."""
        key = self.key + name
        return Address(
            f"{SCHEME_OF[self.provider_id or '']}://{self.bucket}/{key}",
            self.provider_id,
            self.bucket,
            key,
        )

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> Address:
    """An address; UsageError naming it when its scheme is unknown."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        if not text:
            raise UsageError("an empty address")
        return Address(text)
    provider_id = SCHEMES.get(scheme.lower())
    if provider_id is None:
        known = ", ".join(f"{name}://" for name in SCHEMES)
        raise UsageError(f"{text}: unknown scheme {scheme!r} (use {known}, or a plain path)")
    bucket, _, key = rest.partition("/")
    return Address(text, provider_id, bucket, key)


def remote(text: str) -> Address:
    """An address that must name a provider (``ls``, ``rm``, ``stat``...)."""
    address = parse(text)
    if not address.remote:
        raise UsageError(f"{text}: not an object address (use e.g. s3://bucket/key)")
    return address


def with_bucket(text: str, *, key: bool = False) -> Address:
    """A remote address that names a bucket (and a key, if ``key``)."""
    address = remote(text)
    if not address.bucket:
        raise UsageError(f"{text}: names no bucket")
    if key and (not address.key or address.key.endswith("/")):
        raise UsageError(f"{text}: names no object")
    return address

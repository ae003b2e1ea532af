"""Server-side copies (``CopiesObjects``): Copy Blob, waited for.

The bytes never leave the account: the destination's Copy Blob names the
source by URL, pinned to the revision the core looked up
(``x-ms-source-if-match``), and the call returns once the copy is over.

Why Copy Blob and not Put Blob From URL + Put Block From URL (which
would apply content settings at an atomic commit and stage big copies in
parallel under the TransferConfig): Azurite (3.35) answers both From-URL
calls ``APINotImplemented`` (its ``putBlobFromUrl`` / ``stageBlockFromURL``
handlers throw), so that path could not be tested on the suite's server.
Copy Blob is the call Azurite and Azure both carry out. What follows:

- Within one account Azure usually finishes a Copy Blob before answering
  (Azurite always does); otherwise its status is ``pending`` and this polls
  the destination until it is over. A copy that fails or is interrupted
  while pending is aborted and its destination deleted (pinned to the
  copy's ETag): Azure leaves a failed copy as a zero-length blob. An
  object that was there before the copy is gone then, as with any failed
  Copy Blob over it. An interrupt (Ctrl-C) landing while Copy Blob itself
  answers ``pending`` is not caught: Azure finishes that copy (the object
  whole) or leaves the failed one's zero-length blob. Unlike a multipart
  start (:mod:`..shielded`) nothing is left open, and no test server
  answers ``pending`` to prove a fix against.
- Copy Blob takes the metadata (``x-ms-meta-*``) but copies the source's
  content settings, and a Set Blob Properties after it would show the
  source's type for a round trip. So the driver says
  ``copies_keep_content_type``: the core streams a copy given another type,
  and this refuses one (InvalidValueException) if called directly.
- The source is as the core looked it up (its size, etag, type): no HEAD
  here, but after a 412 (Azurite's ConditionNotMet names neither side).
- Copy Blob keeps the source's metadata when none is sent, so the copy's
  metadata always carries the source's etag (:mod:`.metadata`'s reserved
  entry): an empty metadata asked for stays empty, and the copy keeps the
  source's S3-style etag, as its bytes are the same.
- The source URL carries a read-only SAS valid for a few minutes, signed
  by the account key; under Entra ID none is needed (Azure authorises a
  source in the same account by the caller's identity); with a SAS token as
  the credential, that token. The SAS is never logged nor put in an error:
  any message that could quote it is scrubbed.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.blob import BlobSasPermissions, generate_blob_sas

from ...errors import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    ProviderInternalException,
)
from ..records import ObjectInfo, WriteOptions
from . import metadata
from .errors import error_code, status_of
from .properties import quoted

if TYPE_CHECKING:
    from .driver import AzureDriver

SOURCE_SAS_LIFETIME = timedelta(minutes=15)
CLOCK_SKEW = timedelta(minutes=5)  # the SAS starts a little in the past
POLL_FIRST = 0.05
POLL_MAX = 2.0
REDACTED = "sig=***"


def copy_blob(
    driver: AzureDriver,
    source_bucket: str,
    source: ObjectInfo,
    bucket: str,
    key: str,
    options: WriteOptions,
) -> ObjectInfo:
    """``source`` as the core looked it up; its type must be the copy's."""
    if source.revision is None:  # "whatever is there": pinned to what is there now
        found = driver.head_object(source_bucket, source.key)
        if found is None:
            raise NotFoundException(f"object {source.key!r} not found in bucket {source_bucket!r}")
        source = found
    if options.content_type != source.content_type:
        raise InvalidValueException(
            "content_type",
            options.content_type,
            f"an Azure Blob copy keeps the source's type {source.content_type!r};"
            " the core streams a copy given another",
        )
    revision = source.revision
    assert revision is not None
    url, secret = _source_url(driver, source_bucket, source.key)
    destination = driver.blob(bucket, key)
    args: dict[str, Any] = {
        "source_etag": revision,
        "source_match_condition": MatchConditions.IfNotModified,
    }
    if options.create_only:
        args["if_none_match"] = "*"
    try:
        started = destination.start_copy_from_url(
            url, metadata=metadata.encode(options.metadata, source.etag), **args
        )
        etag, modified = started["etag"], started["last_modified"]
        if started.get("copy_status") != "success":
            properties = _finished(destination, started, bucket, key, secret)
            etag, modified = properties.etag, properties.last_modified
    except HttpResponseError as error:
        code, status = error_code(error), status_of(error)
        # Azure says SourceConditionNotMet; Azurite says ConditionNotMet for
        # the source and the destination alike: a look at the source tells
        if code == "SourceConditionNotMet" or (
            status == 412 and _moved(driver, source_bucket, source.key, revision)
        ):
            raise _replaced(source_bucket, source.key) from _safe_cause(error, secret)
        if code == "CannotVerifyCopySource" and status == 404:
            raise NotFoundException(
                f"object {source.key!r} not found in bucket {source_bucket!r}"
            ) from _safe_cause(error, secret)
        raise _scrubbed(driver.error(error, bucket, key), secret) from _safe_cause(error, secret)
    except AzureError as error:
        raise _scrubbed(driver.error(error, bucket, key), secret) from _safe_cause(error, secret)
    return ObjectInfo(
        key=key,
        size=source.size,
        last_modified=modified if modified.tzinfo else modified.replace(tzinfo=timezone.utc),
        etag=source.etag,
        content_type=options.content_type,
        metadata=dict(options.metadata),
        revision=quoted(etag),
    )


def _replaced(bucket: str, key: str) -> PreconditionFailedException:
    return PreconditionFailedException(
        f"object {key!r} in bucket {bucket!r} was replaced since it was looked up"
    )


def _moved(driver: AzureDriver, bucket: str, key: str, revision: str) -> bool:
    now = driver.head_object(bucket, key)
    return now is None or now.revision != revision


def _source_url(driver: AzureDriver, bucket: str, key: str) -> tuple[str, str | None]:
    """The source's URL and the secret in it (to scrub from any error)."""
    url: str = driver.blob(bucket, key).url
    settings = driver.settings
    if settings.auth == "key":
        now = datetime.now(timezone.utc)
        token = generate_blob_sas(
            settings.account,
            bucket,
            key,
            account_key=settings.account_key,
            permission=BlobSasPermissions(read=True),
            start=now - CLOCK_SKEW,
            expiry=now + SOURCE_SAS_LIFETIME,
        )
        return f"{url}?{token}", token
    if settings.auth == "sas":
        assert settings.sas_token is not None
        return f"{url}?{settings.sas_token}", settings.sas_token
    return url, None


def _finished(
    destination: Any, started: dict[str, Any], bucket: str, key: str, secret: str | None
) -> Any:
    """The destination's properties once its pending copy is over; a copy
    that failed, or was interrupted while pending, leaves no blob behind."""
    copy_id = started.get("copy_id")
    status = started.get("copy_status")
    delay = POLL_FIRST
    try:
        while True:
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX)
            properties = destination.get_blob_properties()
            if properties.copy.id != copy_id:  # another write replaced the copy meanwhile
                status = None
                return properties
            status = properties.copy.status or status
            if status == "success":
                return properties
            if status != "pending":
                _discard(destination, properties.etag)
                description = properties.copy.status_description or "no description"
                raise _scrubbed(
                    ProviderInternalException(
                        f"Azure Blob copy into {key!r} in bucket {bucket!r} ended {status!r}:"
                        f" {description}"
                    ),
                    secret,
                )
    except BaseException:
        if status == "pending":
            with contextlib.suppress(AzureError):  # over already: deleted all the same
                destination.abort_copy(copy_id)
            _discard(destination, None)
        raise


def _discard(destination: Any, etag: str | None) -> None:
    try:
        if etag is None:
            destination.delete_blob()
        else:
            destination.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
    except AzureError:
        pass  # gone already, or replaced by another writer: theirs to keep


def _scrubbed(error: Exception, secret: str | None) -> Exception:
    """``error`` with the source's SAS (or its signature) taken out of its message."""
    if secret is None:
        return error
    text = _scrub(str(error), secret)
    return error if text == str(error) else type(error)(text)


def _safe_cause(error: Exception, secret: str | None) -> Exception | None:
    """The SDK's error as the cause, unless its text quotes the SAS."""
    if secret is None:
        return error
    text = f"{error!s} {error!r}"
    return None if _scrub(text, secret) != text else error


def _scrub(text: str, secret: str) -> str:
    text = text.replace(secret, REDACTED)
    signature = dict(pair.partition("=")[::2] for pair in secret.split("&")).get("sig")
    for spelling in {signature, unquote(signature or "")} - {None, ""}:
        text = text.replace(str(spelling), "***")
    return text

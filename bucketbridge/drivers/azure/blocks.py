"""Multipart uploads as Azure staged blocks.

Azure has no multipart-upload object: a blob name holds *uncommitted
blocks* until a Put Block List commits some of them (and discards the rest).
So an "upload" here is a random id, and its parts are the blocks whose id
carries it: part ``n`` of upload ``u`` is the block
``bb-<u: 32 hex>-<n: 12 digits>`` (48 characters, base64-encoded as Azure
wants). Ids are fixed-width because Azure refuses blocks of one blob whose
ids differ in length; 48 characters is also the SDK's own width, so our
blocks and the SDK's can wait on the same name.

- Content type, metadata and create-only (``If-None-Match: *``) are applied
  at the commit, which is atomic: until then readers see the old object or
  none, and a failed upload leaves no committed blob.
- ``complete`` asks the server for the uncommitted blocks first: their sizes
  are checked against S3's part rules (as on every provider) and a part that
  was never staged, or an upload that was aborted, is refused by name.
- ``list_multipart`` finds the blobs that exist only as uncommitted blocks
  (List Blobs with ``uncommittedblobs``; such a blob lists with size 0) and
  groups their blocks by upload id; blocks staged by other tools form one
  upload with id ``*``. An upload that replaces an *existing* object is not
  listed: Azure lists a committed blob once, without its pending blocks, and
  asking every blob for its block list would cost a request per object.
- ``abort`` deletes the blob when it holds only this upload's blocks and no
  committed content. Otherwise nothing can remove the blocks without
  rewriting the object: Azure discards them at the next write of that name,
  or after seven days. An aborted session refuses further parts. Between
  the look that finds no committed content and the delete, another writer
  could commit the name; Azurite honours no condition on a blob that has
  only blocks, so that window (one round trip) stays open.
- Two uploads racing to one name: committing a block list discards every
  other uncommitted block of the blob, so the later ``complete`` finds parts
  this session staged gone (or its commit is refused as InvalidBlockList)
  and raises UploadSupersededException, saying so. The transfer engine
  re-runs such an upload from its file or seekable stream, a bounded number
  of times; every attempt is aborted, so nothing is left staged. Last
  commit wins, as on S3. Chosen over staging each part on a hidden
  per-upload blob and copying the blocks into the target at ``complete``
  with Put Block From URL: Azurite (3.35) answers that call
  APINotImplemented, so it could not be tested here; it would also need a
  source SAS (no account key under Entra ID), cost a server-side copy of
  every byte, and hide a second blob from listings, incomplete uploads and
  bucket deletion. What it would add is an explicit ``MultipartUpload``
  that survives a race, which instead fails with that clear error.
- On Azurite, a Put Blob with ``If-None-Match: *`` (``overwrite=False``)
  is refused while the name holds uncommitted blocks, as if it existed.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.blob import BlobBlock, ContentSettings

from ...errors import InvalidValueException, NotFoundException, UploadSupersededException
from ..parts import check_part_sizes, multipart_etag
from ..records import Body, ObjectInfo, PartInfo, UploadInfo, WriteOptions
from . import checksums, metadata
from .errors import error_code, status_of
from .own_writes import RetryWatch, own_object
from .properties import quoted

if TYPE_CHECKING:
    from .driver import AzureDriver

FOREIGN = "*"
"""The upload id of blocks another tool staged."""

_ID = re.compile(r"^[0-9a-f]{32}$")
_BLOCK = re.compile(r"^bb-([0-9a-f]{32})-(\d{12})$")


def new_upload_id() -> str:
    return uuid.uuid4().hex


def checked_upload_id(upload_id: str) -> str:
    if upload_id != FOREIGN and not _ID.fullmatch(upload_id):
        raise NotFoundException(f"multipart upload {upload_id!r} does not exist")
    return upload_id


def block_id(upload_id: str, part_number: int) -> str:
    return base64.b64encode(f"bb-{upload_id}-{part_number:012d}".encode()).decode()


def upload_of(block: str) -> tuple[str, int] | None:
    """The upload id and part number of one of our block ids; None for others'."""
    try:
        text = base64.b64decode(block, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    match = _BLOCK.fullmatch(text)
    return (match.group(1), int(match.group(2))) if match else None


class BlockUpload:
    """One upload: the blocks of one blob name whose ids carry ``upload_id``."""

    def __init__(self, driver: AzureDriver, bucket: str, key: str, upload_id: str) -> None:
        self._driver = driver
        self._bucket = bucket
        self._key = key
        self.upload_id = upload_id
        self._aborted = False
        # The parts this session staged: if the server no longer has one,
        # it was discarded by another commit of the name, not never sent.
        self._sent: set[int] = set()

    def _blob(self) -> Any:
        return self._driver.blob(self._bucket, self._key)

    def _gone(self) -> NotFoundException:
        return NotFoundException(
            f"the multipart upload {self.upload_id!r} of object {self._key!r} in bucket"
            f" {self._bucket!r} was aborted, completed or has expired"
        )

    def _superseded(self) -> UploadSupersededException:
        return UploadSupersededException(
            f"the multipart upload {self.upload_id!r} of object {self._key!r} in bucket"
            f" {self._bucket!r} lost its parts: another upload committed that name first,"
            " and Azure discards every uncommitted block of a blob when one is committed"
        )

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        if self._aborted or self.upload_id == FOREIGN:
            raise self._gone()
        wire = self._driver.wire
        if wire is not None:
            # The part's checksum (azure_checksum: Azure's CRC-64, or its
            # MD5) is its token and goes with it: the server verifies the
            # body against it (see .checksums, which also switches ``auto``
            # to MD5 where the CRC-64 is refused). Azure answers Put Block
            # with no MD5 unless sent one (API 2019-02-02 on).
            block = block_id(self.upload_id, part_number)
            token = self._driver.checksum.stage(
                body,
                lambda sent, checksum: wire.put_block(
                    self._bucket, self._key, block, sent, checksum=checksum
                ),
                lambda: wire.crc64_refusal(self._bucket, self._key),
            )
            self._sent.add(part_number)
            return PartInfo(part_number, token, body.size)
        with self._driver.mapped(self._bucket, self._key):
            # the body streams from its file window: no part is held in memory
            response = self._blob().stage_block(
                block_id(self.upload_id, part_number), body, body.size
            )
        self._sent.add(part_number)
        # Azure answers Put Block with the MD5 it computed; Azurite does not,
        # and then the part is read again (from the page cache) to hash it.
        served = response.get("content_md5")
        token = bytes(served).hex() if served else md5_of(body)
        return PartInfo(part_number, token, body.size)

    def _staged_sizes(self) -> dict[str, int]:
        """Block id -> size of the uncommitted blocks of the blob."""
        try:
            _committed, uncommitted = self._blob().get_block_list("uncommitted")
        except HttpResponseError as error:
            if error_code(error) == "BlobNotFound":
                return {}
            raise self._driver.error(error, self._bucket, self._key) from error
        except AzureError as error:
            raise self._driver.error(error, self._bucket, self._key) from error
        return {block.id: block.size for block in uncommitted}

    def complete(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        if self._aborted or self.upload_id == FOREIGN:
            raise self._gone()
        staged = self._staged_sizes()
        if any(
            part.part_number in self._sent
            and block_id(self.upload_id, part.part_number) not in staged
            for part in parts
        ):
            # a commit of the name discards them; a delete of the blob or
            # its container (no committed content then) ends the upload
            if self._driver.head_object(self._bucket, self._key) is not None:
                raise self._superseded()
            raise self._gone()
        if not any((upload_of(block) or ("", 0))[0] == self.upload_id for block in staged):
            raise self._gone()
        ids: list[str] = []
        sized: list[PartInfo] = []
        for part in parts:
            block = block_id(self.upload_id, part.part_number)
            if block not in staged or not checksums.TOKEN.fullmatch(part.token):
                raise InvalidValueException(
                    "parts", part.part_number, "no part with this number and etag was uploaded"
                )
            ids.append(block)
            sized.append(PartInfo(part.part_number, part.token, staged[block]))
        check_part_sizes(sized)
        etag = multipart_etag([part.token for part in sized])
        args: dict[str, Any] = {}
        if options.create_only:
            args["if_none_match"] = "*"
        watch = RetryWatch()
        try:
            response = self._blob().commit_block_list(
                [BlobBlock(block_id=block) for block in ids],
                content_settings=ContentSettings(content_type=options.content_type),
                metadata=metadata.encode(options.metadata, etag),
                retry_hook=watch,
                **args,
            )
        except HttpResponseError as error:
            if watch.retried and error_code(error) in ("BlobAlreadyExists", "InvalidBlockList"):
                # the lost attempt committed: the retry finds the blob, or
                # (without a condition) no blocks left to commit
                size = sum(part.size for part in sized)
                mine = own_object(self._driver, self._bucket, self._key, etag, size)
                if mine is not None:
                    return mine
            # another commit between our look and ours discarded the blocks
            if error_code(error) == "InvalidBlockList":
                raise self._superseded() from error
            raise self._driver.error(error, self._bucket, self._key) from error
        except AzureError as error:
            raise self._driver.error(error, self._bucket, self._key) from error
        return ObjectInfo(
            key=self._key,
            size=sum(part.size for part in sized),
            last_modified=response["last_modified"],
            etag=etag,
            content_type=options.content_type,
            metadata=dict(options.metadata),
            revision=quoted(response["etag"]),
        )

    def abort(self) -> None:
        self._aborted = True
        blob = self._blob()
        try:
            blob.get_blob_properties()
            return  # committed content: its pending blocks cannot be removed alone
        except HttpResponseError as error:
            if status_of(error) != 404:
                raise self._driver.error(error, self._bucket, self._key) from error
            if error_code(error) == "ContainerNotFound":
                return
        except AzureError as error:
            raise self._driver.error(error, self._bucket, self._key) from error
        staged = self._staged_sizes()
        others = [
            block
            for block in staged
            if self.upload_id != FOREIGN and (upload_of(block) or ("", 0))[0] != self.upload_id
        ]
        if not staged or others:
            return  # nothing to delete, or another upload's blocks wait there too
        try:
            blob.delete_blob()
        except HttpResponseError as error:
            if status_of(error) != 404:
                raise self._driver.error(error, self._bucket, self._key) from error
        except AzureError as error:
            raise self._driver.error(error, self._bucket, self._key) from error


md5_of = checksums.md5_of
"""The part's MD5 (for the S3-style etag), read in slices; the body is rewound."""


def list_uploads(driver: AzureDriver, bucket: str) -> Iterator[UploadInfo]:
    container = driver.client.get_container_client(bucket)
    with driver.mapped(bucket):
        candidates = [
            (item.name, item.creation_time)
            for item in container.list_blobs(include=["uncommittedblobs"])
            if item.size == 0
        ]
    for name, created in candidates:
        upload = BlockUpload(driver, bucket, name, FOREIGN)
        ids = {(upload_of(block) or (FOREIGN, 0))[0] for block in upload._staged_sizes()}
        for upload_id in sorted(ids):
            yield UploadInfo(name, upload_id, created)

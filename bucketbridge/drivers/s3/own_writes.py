"""Telling our own write from someone else's after a retried create-only write.

botocore (or the lean data plane, for a PUT) retries a PUT or
CompleteMultipartUpload whose response was lost (a reset, a timeout). If the
lost attempt had stored the object, the retry's
``If-None-Match: *`` meets it and the server answers 412: the caller would be
told the object already existed when the object there is the one it just
wrote. So a create-only write that was retried into a 412 compares the
object's ETag with the one its own bytes give (S3's MD5 of the body, or of
the parts' MD5s for a multipart object) and, if they match, reports success.

What remains: an object written by someone else between the lost attempt and
its retry with exactly our bytes is taken for ours (the bytes at the key are
the caller's either way), and a server whose ETags are not these MD5s
(SSE-KMS on AWS) keeps the 412.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Sequence

from botocore.exceptions import ClientError

from ..records import Body, PartInfo
from .errors import S3ResponseError, http_status, times_sent

_READ = 8 * 1024 * 1024
_MD5 = re.compile(r"[0-9a-f]{32}")


def retried_into_precondition(error: ClientError | S3ResponseError) -> bool:
    """A 412 that came after the request had been sent more than once."""
    return http_status(error) == 412 and times_sent(error) > 1


def body_etag(body: Body) -> str:
    """The ETag S3 gives an object stored with one PUT of ``body``."""
    digest = hashlib.md5(usedforsecurity=False)
    body.seek(0)
    while chunk := body.read(_READ):
        digest.update(chunk)
    return digest.hexdigest()


def multipart_etag(parts: Sequence[PartInfo]) -> str | None:
    """The ETag S3 gives a multipart object of ``parts``: the MD5 of their
    MD5s, then ``-<number of parts>``; None if a part's ETag is no MD5."""
    digests = [part.token.strip('"').lower() for part in parts]
    if not all(_MD5.fullmatch(digest) for digest in digests):
        return None
    joined = b"".join(binascii.unhexlify(digest) for digest in digests)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(parts)}"

"""Signed URLs as Azure SAS: one blob, one method, until they expire.

A readable URL grants ``sp=r`` only; a writable one ``sp=cw`` (create and
write) only: it cannot read, unlike CloudBridge's, which also grants read.
The response overrides map to ``rscd`` / ``rsct``, which the signature
covers. With an account key the SAS is a service SAS signed by it; with
Entra ID credentials (a service principal or DefaultAzureCredential) it is a
user-delegation SAS, signed by a key the service hands out for the URL's
lifetime. A SAS token configured as the credential cannot sign anything.

A PUT to a writable URL must send ``x-ms-blob-type: BlockBlob`` (Put Blob
refuses the request without it, with 400): the seed's example sends it.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from azure.storage.blob import BlobSasPermissions, generate_blob_sas

from ...errors import InvalidConfigurationException
from ..records import UrlRequest

if TYPE_CHECKING:
    from .driver import AzureDriver


def permissions(request: UrlRequest) -> BlobSasPermissions:
    if request.method == "GET":
        return BlobSasPermissions(read=True)
    return BlobSasPermissions(create=True, write=True)


def sign(driver: AzureDriver, bucket: str, key: str, request: UrlRequest) -> str:
    settings = driver.settings
    # the SAS carries whole seconds and the SDK drops the fraction, so a 1 s URL
    # could live 0.01 s: round up so it lives at least the seconds asked for
    expiry = datetime.fromtimestamp(math.ceil(time.time() + request.expires_in), timezone.utc)
    signer: dict[str, Any]
    if settings.auth == "key":
        signer = {"account_key": settings.account_key}
    elif settings.auth == "sas":
        raise InvalidConfigurationException(
            "signed URLs need azure_account_key (or a connection string with AccountKey) or"
            " Entra ID credentials; a SAS token given as azure_sas_token cannot sign another"
        )
    else:
        signer = {
            "user_delegation_key": driver.client.get_user_delegation_key(
                key_start_time=datetime.now(timezone.utc) - timedelta(minutes=1),
                key_expiry_time=expiry,
            )
        }
    token = generate_blob_sas(
        settings.account,
        bucket,
        key,
        permission=permissions(request),
        expiry=expiry,
        content_disposition=request.response_content_disposition,
        content_type=request.response_content_type,
        **signer,
    )
    url: str = driver.blob(bucket, key).url
    return f"{url}?{token}"

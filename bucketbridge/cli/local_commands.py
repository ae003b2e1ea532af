"""``bucketbridge demo`` walks through the API, ``bucketbridge serve`` runs
the signed-URL server for a local root."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import uuid
from typing import Any

from ..errors import ProviderConnectionException
from ..factory import CloudProviderFactory, ProviderList


def _local_config(root: str | None) -> dict[str, Any]:
    return {"local_root": root} if root else {}


def run_demo(root: str | None) -> int:
    import urllib.request

    say = print
    with CloudProviderFactory().create_provider(
        ProviderList.LOCAL, _local_config(root)
    ) as provider:
        say(f"provider: {provider!r}, root {provider.driver.root}")  # type: ignore[attr-defined]
        name = f"demo-{uuid.uuid4().hex[:8]}"
        bucket = provider.storage.buckets.create(name)
        say(f"1. created bucket {bucket.name}; it holds {len(bucket.objects.list())} objects")
        try:
            with tempfile.TemporaryDirectory() as scratch:
                source = os.path.join(scratch, "myfile.txt")
                with open(source, "w", encoding="utf-8") as handle:
                    handle.write("Hello from a file!\n" * 100)
                obj = bucket.objects.create("my-data.txt")
                obj.upload_from_file(source)
                say(f"2. uploaded {source} as {obj.name} ({obj.size} bytes)")
                memo = bucket.objects.create("notes/memo.txt")
                memo.upload(b"Hello from memory!", metadata={"author": "demo"})
                say(f"3. uploaded {memo.name} from memory, metadata {memo.metadata}")
                say(f"4. list: {[o.name for o in bucket.objects.list()]}")
                found_bucket = provider.storage.buckets.find(name=name)[0]
                found = found_bucket.objects.find(name="my-data.txt")[0]
                say(f"5. find(name='my-data.txt') -> {found!r}")
                say(f"6. Size: {found.size}, Modified: {found.last_modified}")
                target = os.path.join(scratch, "downloaded.txt")
                found.download_to_file(target)
                with open(target, "rb") as got, open(source, "rb") as sent:
                    same = got.read() == sent.read()
                say(f"7. downloaded to {target}: identical to the source: {same}")
                url = found.generate_url(expires_in=60)
                with urllib.request.urlopen(url) as response:
                    fetched = response.read()
                say(
                    f"8. signed GET URL {url.split('?')[0]}?... -> HTTP {response.status},"
                    f" {len(fetched)} bytes"
                )
                upload_url = bucket.objects.create("via-url.txt").generate_url(
                    expires_in=60, writable=True
                )
                request = urllib.request.Request(upload_url, data=b"Hello world!", method="PUT")
                with urllib.request.urlopen(request) as response:
                    status = response.status
                uploaded = bucket.objects.get("via-url.txt")
                content = b"".join(uploaded.iter_content()) if uploaded else b""
                say(f"9. signed PUT URL -> HTTP {status}; the object now holds {content!r}")
        finally:
            bucket.delete(delete_contents=True)
            say(f"10. deleted bucket {name} and its objects")
    return 0


def run_serve(root: str | None, host: str, port: int) -> int:
    from ..localserver import SignedUrlServer

    provider = CloudProviderFactory().create_provider(ProviderList.LOCAL, _local_config(root))
    driver: Any = provider.driver
    server = SignedUrlServer(driver, driver.signer.signer)
    try:
        url = server.listen(host, port)
    except ProviderConnectionException as error:
        print(f"bucketbridge serve: {error}", file=sys.stderr)
        return 1
    print(
        f"serving signed URLs of {driver.root} on {url}\n"
        f"clients: set local_server_url={url} (env LOCAL_SERVER_URL)",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0

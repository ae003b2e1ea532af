"""Client CPU a HEAD against a server that answers after a fixed delay: ours and obstore's.

    python bench/waiting_cpu.py                       # delays 0, 1 and 4 ms
    python bench/waiting_cpu.py --delays 0,2,8 --calls 1000

The server is a thread a connection in a child process that answers every
request with one canned Azure Blob HEAD answer after ``delay`` ms, so the
work a call asks of the server is the same at every delay and only the wait
changes. Each contender keeps one keep-alive connection: the Azure driver's
lean ``head`` (SharedKey-signed) and ``obstore.head`` on an ``AzureStore``.

Why: on Azurite our client's CPU a ``find`` moved 181-576 µs from one run
to the next with the emulator's state (bench/results.md, sessions 15-16).
If that were our client (a poll, a spin while waiting), our CPU a call
would grow with the delay and obstore's would not; if both grow alike, it
is what waking a process costs on this VM, not either client.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable

import harness  # noqa: F401  (puts this checkout first on sys.path)

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Type: application/octet-stream\r\n"
    b'Last-Modified: Sun, 29 Nov 2026 07:00:00 GMT\r\nETag: "0x8DD1234567890AB"\r\n'
    b"Server: Azurite-Blob/3.35.0\r\nx-ms-request-id: 1234\r\nx-ms-version: 2025-01-05\r\n"
    b"Date: Sun, 29 Nov 2026 07:00:00 GMT\r\nx-ms-blob-type: BlockBlob\r\n"
    b"x-ms-server-encrypted: true\r\nAccept-Ranges: bytes\r\n"
    b"x-ms-creation-time: Sun, 29 Nov 2026 07:00:00 GMT\r\n"
    b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
)

SERVER = r"""
import socket, sys, threading, time
delay, answer = float(sys.argv[1]) / 1000, sys.stdin.buffer.read()
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)

def serve(connection):
    pending = b""
    while data := connection.recv(65536):
        pending += data
        while b"\r\n\r\n" in pending:  # a HEAD: no body follows its head
            pending = pending.split(b"\r\n\r\n", 1)[1]
            time.sleep(delay)
            connection.sendall(answer)

while True:
    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
"""


def per_call(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """Wall ms and client CPU-µs a call (this process, every thread)."""
    call()  # the connection
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - wall) / calls * 1e3, (time.process_time() - cpu) / calls * 1e6


def at_delay(delay: float, calls: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Each contender's (wall, CPU) a call, a pair a round, against a
    server that waits ``delay`` ms before each answer."""
    import obstore
    from obstore.store import AzureStore

    from bucketbridge import CloudProviderFactory, ProviderList
    from tests.servers.azurite import ACCOUNT, ACCOUNT_KEY

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(delay)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write(ANSWER)
    server.stdin.close()
    endpoint = f"http://127.0.0.1:{int(server.stdout.readline())}/{ACCOUNT}"
    provider = CloudProviderFactory().create_provider(
        ProviderList.AZURE,
        {
            "azure_storage_account": ACCOUNT,
            "azure_account_key": ACCOUNT_KEY,
            "azure_endpoint_url": endpoint,
        },
    )
    wire = provider.driver.wire  # type: ignore[attr-defined]
    store = AzureStore(
        "container",
        account_name=ACCOUNT,
        account_key=ACCOUNT_KEY,
        endpoint=endpoint,
        client_options={"allow_http": True},
    )
    contenders: dict[str, Callable[[], object]] = {
        "bucketbridge": lambda: wire.head("container", "key"),
        "obstore": lambda: obstore.head(store, "key"),
    }
    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    try:
        for _ in range(rounds):
            for name, call in contenders.items():
                measured[name].append(per_call(call, calls))
    finally:
        provider.close()
        server.kill()
        server.wait()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delays", default="0,1,4", help="the server's delays, ms")
    parser.add_argument("--calls", type=int, default=500, help="HEADs per contender and delay")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    print("delay    contender        wall ms/call   client CPU-µs/call (each round)")
    for delay in (float(d) for d in options.delays.split(",")):
        for name, runs in at_delay(delay, options.calls, options.rounds).items():
            walls = sorted(wall for wall, _ in runs)
            cpus = ", ".join(f"{cpu:.0f}" for _, cpu in runs)
            print(f"{delay:4.0f} ms  {name:15s}  {walls[len(walls) // 2]:10.2f}     {cpus}")


if __name__ == "__main__":
    main()

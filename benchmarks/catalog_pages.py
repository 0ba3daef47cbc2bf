"""Catalog server under a crowd: 1,000 concurrent requests for the index, a product page and an API route.

A real `lakemesh catalog serve` process serves the catalog of the lakehouse
the README's first command filled (`./lakehouse`, or `LAKEMESH_LAKEHOUSE`).
Each round opens 1,000 connections at once (aiohttp, no client-side limit) for
one URL and times until the last answer; the API route `/api/v1/namespaces`,
which renders no page, is the baseline measured in the same run, and each page's
time is printed as a ratio of it. Then 200 connections send half a request and
stop: how many the server has closed once its request timeout has passed.
Asserts nothing.

    uv run lakemesh run && uv run python benchmarks/catalog_pages.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

LAKEMESH = str(Path(sys.executable).with_name("lakemesh"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _crowd(url: str, count: int) -> tuple[float, int]:
    """Seconds until `count` concurrent GETs of `url` are all answered, and how many were 200."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:

        async def one() -> int:
            async with session.get(url) as response:
                await response.read()
                return response.status

        started = time.perf_counter()
        statuses = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
        return time.perf_counter() - started, sum(1 for s in statuses if s == 200)


def _half_requests(port: int, count: int, wait: float) -> int:
    """Open `count` connections that send half a request line and stop; how many the server closed after `wait`."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: catalog\r\nX-Trickle: a")
        socks.append(sock)
    time.sleep(wait)
    closed = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            closed += sock.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        sock.close()
    return closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--product", default="sales.orders")
    parser.add_argument("--request-timeout", type=float, default=10.0)
    args = parser.parse_args()

    lakehouse = Path(os.environ.get("LAKEMESH_LAKEHOUSE", "lakehouse")).resolve()
    if not (lakehouse / "_catalog.sqlite").is_file():
        sys.exit(f"no catalog in {lakehouse}: run `uv run lakemesh run` first")
    port = _free_port()
    server = subprocess.Popen(
        [LAKEMESH, "catalog", "serve", "--port", str(port), "--request-timeout", str(args.request_timeout)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("the catalog server did not start")
                time.sleep(0.2)
        routes = {
            "api /api/v1/namespaces": "/api/v1/namespaces",
            "index /": "/",
            "product page": f"/products/{args.product}",
        }
        timings: dict[str, list[float]] = {name: [] for name in routes}
        for _ in range(args.rounds):  # interleaved: the machine's swings hit every route alike
            for name, path in routes.items():
                seconds, ok = asyncio.run(_crowd(base + path, args.requests))
                timings[name].append(seconds)
                if ok != args.requests:
                    print(f"  {name}: {args.requests - ok} of {args.requests} not answered 200")
        baseline = statistics.median(timings["api /api/v1/namespaces"])
        print(f"{args.requests} concurrent requests, median of {args.rounds} rounds:")
        for name, values in timings.items():
            median = statistics.median(values)
            print(f"  {name:<24} {median:6.2f} s   {median / baseline:5.2f}x the API route")
        closed = _half_requests(port, 200, args.request_timeout + 2)
        print(f"half-sent requests closed {args.request_timeout + 2:.0f} s after they stalled: {closed} of 200")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()

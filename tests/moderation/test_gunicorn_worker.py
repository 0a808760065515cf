"""`make serve`'s gunicorn worker (moderation/gunicorn_worker.py) takes a connection only
while it has a thread free, so connections that arrive together spread over the
processes instead of piling onto whichever accepted first."""

import socket
import sys
import time
from pathlib import Path

import pytest
import requests

from bench.served import gunicorn, worker_pids

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the workers' sockets from /proc"),
]


def _connections_held(pid: int, port: int) -> int:
    """Established TCP connections on the server's port among the process's open files."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            held += local_port == port and state == "01" and inode in inodes
    return held


def test_connections_that_arrive_together_spread_over_the_processes():
    with gunicorn(workers=2, threads=2) as base:
        port = int(base.rsplit(":", 1)[1])
        # Four browsers connect at once and have not sent their request yet: each holds a
        # thread of the process that accepted it (gthread waits for its first bytes).
        browsers = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        try:
            time.sleep(1)
            assert sorted(_connections_held(pid, port) for pid in worker_pids(base)) == [2, 2]
            for browser in browsers:
                browser.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert browser.recv(4096).startswith(b"HTTP/1.1 200")
        finally:
            for browser in browsers:
                browser.close()
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200

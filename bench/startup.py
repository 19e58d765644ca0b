#!/usr/bin/env python3
"""Start-up time to a healthy /health, and idle memory, of a release lamba.

Usage: bench/startup.py BINARY [DATABASE_URL]   (default: a fresh SQLite file)
Starts the server RUNS times on a fresh database each time, pinned to core 0,
and reports the median time from exec to the first 200 from /health, then the
RSS of the last server after it has served that and idled one second.
"""
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 7


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        conn.request("GET", "/health")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    binary = sys.argv[1]
    database = sys.argv[2] if len(sys.argv) > 2 else None
    times, rss = [], 0
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            env = {
                "PATH": os.environ["PATH"],
                "LAMBA_LISTEN": f"127.0.0.1:{port}",
                "LAMBA_DATABASE_URL": database or f"sqlite://{tmp}/lamba.db",
                "LAMBA_BOOTSTRAP_API_KEY": "bench-key-0123456789",
                "LAMBA_LOG": "warn",
            }
            started = time.perf_counter()
            proc = subprocess.Popen(["taskset", "-c", "0", binary, "serve"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
            while not healthy(port):
                if proc.poll() is not None:
                    sys.exit("server exited")
                time.sleep(0.002)
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(1)
            rss = rss_kib(proc.pid)
            proc.terminate()
            proc.wait()
    print(f"startup to healthy /health: median {statistics.median(times):.0f} ms "
          f"(min {min(times):.0f}, max {max(times):.0f}, {RUNS} runs)")
    print(f"idle RSS after start and one request: {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()

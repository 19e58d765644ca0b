#!/usr/bin/env python3
"""Start-up time to a healthy /health, and idle memory, of a release lamba.

Usage: bench/startup.py BINARY [sqlite|postgres]   (default: sqlite)
Each run gets a fresh database: a new SQLite file, or a new PostgreSQL database
on 127.0.0.1:5432 (user postgres), dropped afterwards.
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


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", sql], check=True)


def main():
    binary = os.path.abspath(sys.argv[1])
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    times, rss = [], 0
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            if backend == "postgres":
                name = f"lamba_bench_{os.getpid()}"
                psql(f"CREATE DATABASE {name}")
                database = f"postgres://postgres@127.0.0.1:5432/{name}"
            else:
                database = f"sqlite://{tmp}/lamba.db"
            env = {
                "PATH": os.environ["PATH"],
                "LAMBA_LISTEN": f"127.0.0.1:{port}",
                "LAMBA_DATABASE_URL": database,
                "LAMBA_BOOTSTRAP_API_KEY": "bench-key-0123456789",
                "LAMBA_LOG": "warn",
            }
            started = time.perf_counter()
            proc = subprocess.Popen(["taskset", "-c", "0", binary, "serve"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp)
            while not healthy(port):
                if proc.poll() is not None:
                    sys.exit("server exited: " + proc.stderr.read().decode())
                time.sleep(0.002)
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(1)
            rss = rss_kib(proc.pid)
            proc.terminate()
            proc.wait()
            if backend == "postgres":
                psql(f"DROP DATABASE {name} WITH (FORCE)")
    print(f"{backend}: startup to healthy /health (fresh database, migrations included): median {statistics.median(times):.0f} ms "
          f"(min {min(times):.0f}, max {max(times):.0f}, {RUNS} runs)")
    print(f"idle RSS after start and one request: {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()

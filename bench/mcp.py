#!/usr/bin/env python3
"""tools/call through the LuminaGuard MCP gateway vs directly to the server.

    bench/mcp.py [--calls N] [--build DIR]

The server is @modelcontextprotocol/server-everything (tests/mcp) in its
Streamable HTTP mode on a loopback port; the gateway (`luminaguard mcp
serve --http`) has it as its one upstream, over HTTP too. A small client
here speaks Streamable HTTP (initialize, Mcp-Session-Id, JSON or SSE
answers) and calls `echo` (`ev__echo` through the gateway).

Reports: median and p90 latency of one call (sequential), and calls per
second with 1 and 16 concurrent clients (each with its own session and
connection), for both paths, and the ratios gateway / direct.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Session:
    """One MCP session over Streamable HTTP, one keep-alive connection."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.sid = None
        self.next_id = 1
        self.rpc("initialize", {"protocolVersion": "2025-11-25",
                                "capabilities": {},
                                "clientInfo": {"name": "bench",
                                               "version": "1"}})
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, msg):
        h = {"Content-Type": "application/json",
             "Accept": "application/json, text/event-stream",
             "Origin": "http://localhost"}
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
            h["MCP-Protocol-Version"] = "2025-11-25"
        self.conn.request("POST", "/mcp", body=json.dumps(msg), headers=h)
        r = self.conn.getresponse()
        body = r.read()
        if r.getheader("Mcp-Session-Id"):
            self.sid = r.getheader("Mcp-Session-Id")
        if r.status >= 300:
            raise RuntimeError(f"HTTP {r.status}: {body[:200]!r}")
        if not body:
            return None
        if r.getheader("Content-Type", "").startswith("text/event-stream"):
            out = None
            for line in body.decode().splitlines():
                if line.startswith("data:") and line[5:].strip():
                    m = json.loads(line[5:])
                    if "id" in m and ("result" in m or "error" in m):
                        out = m
            return out
        return json.loads(body)

    def rpc(self, method, params):
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method,
               "params": params}
        self.next_id += 1
        m = self.post(msg)
        if not m or "error" in m:
            raise RuntimeError(f"{method}: {m}")
        return m["result"]

    def call(self, tool):
        return self.rpc("tools/call", {"name": tool,
                                       "arguments": {"message": "ping"}})


def wait_port(port, proc, deadline=20.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def latency(port, tool, n):
    s = Session(port)
    for _ in range(10):
        s.call(tool)  # warm up
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.call(tool)
        out.append(time.perf_counter() - t0)
    return out


def throughput(port, tool, clients, n):
    sessions = [Session(port) for _ in range(clients)]
    errors = []

    def run(s):
        try:
            for _ in range(n):
                s.call(tool)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in sessions]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return clients * n / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    lg = os.path.join(args.build, "src/cli/luminaguard")
    bindir = subprocess.run([os.path.join(ROOT, "tests/mcp/setup-servers.sh")],
                            capture_output=True, text=True,
                            check=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="lg-mcp-bench.")
    sport, gport = free_port(), free_port()
    procs = []
    try:
        srv = subprocess.Popen([os.path.join(bindir, "mcp-server-everything"),
                                "streamableHttp"],
                               env=dict(os.environ, PORT=str(sport)),
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               start_new_session=True)
        procs.append(srv)
        wait_port(sport, srv)
        cfg = os.path.join(work, "config.json")
        with open(cfg, "w") as f:
            json.dump({"mcp": {"servers": {"ev": {
                "url": f"http://127.0.0.1:{sport}/mcp"}}}}, f)
        gw = subprocess.Popen([lg, "mcp", "serve", "--config", cfg,
                               "--http", f"127.0.0.1:{gport}"],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_port(gport, gw)
        time.sleep(0.5)  # upstream lists fetched
        n = args.calls
        d = latency(sport, "echo", n)
        g = latency(gport, "ev__echo", n)
        print(f"# {n} sequential calls each; server-everything "
              f"streamableHttp on loopback; medians")
        for name, dv, gv in (
                ("latency median (ms)", statistics.median(d) * 1e3,
                 statistics.median(g) * 1e3),
                ("latency p90 (ms)",
                 statistics.quantiles(d, n=10)[-1] * 1e3,
                 statistics.quantiles(g, n=10)[-1] * 1e3)):
            print(f"{name:<28} direct {dv:8.2f}   gateway {gv:8.2f}   "
                  f"ratio {gv / dv:6.2f}")
        for c in (1, 16):
            per = max(10, n // c)
            dv = throughput(sport, "echo", c, per)
            gv = throughput(gport, "ev__echo", c, per)
            print(f"{f'calls/s, {c} concurrent':<28} direct {dv:8.1f}   "
                  f"gateway {gv:8.1f}   ratio {gv / dv:6.2f}")
    finally:
        for p in procs:
            if p.poll() is None:
                if p is procs[0]:
                    os.killpg(p.pid, 9)
                else:
                    p.terminate()
            p.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())

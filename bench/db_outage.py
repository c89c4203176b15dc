#!/usr/bin/env python3
"""Database outage: PostgreSQL is stopped for 30 s while intake is under steady load. Checks
that the service answers 503 with Retry-After (never a hang past its own timeouts, never a
crash), that /readyz reports the outage, that it recovers by itself, and that every response
the clients kept retrying (as the widget does) ends up stored exactly once.

    python3 bench/db_outage.py            # needs a release build and the local PostgreSQL cluster

It stops and starts the machine's PostgreSQL with pg_ctlcluster (Debian), so run it on a
machine where nothing else needs that server for a minute.
"""
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cx-survey")
PG = "postgres://postgres@127.0.0.1:5432"
PORT = 18088
OUTAGE = float(os.environ.get("OUTAGE_SECONDS", "30"))


def cluster(action):
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                   check=True, capture_output=True)


def request(method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json", **(headers or {})})
        r = c.getresponse()
        return r.status, r.getheader("Retry-After"), r.read()
    finally:
        c.close()


def main():
    name = "cx_outage_bench"
    subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
                    "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    env = dict(os.environ, DATABASE_URL=f"{PG}/{name}", CX_SURVEY_DEFS=os.path.join(ROOT, "survey-defs"),
               CX_RATE_LIMIT_PER_MINUTE="0", RUST_LOG="error")
    key = subprocess.run([BIN, "keys", "create", "--agency", "outage"], env=env, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    proc = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{PORT}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            if request("GET", "/healthz", timeout=1)[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    auth = {"Authorization": f"Bearer {key}"}
    request("POST", "/api/v1/admin/hisps", {"slug": "h", "name": "H"}, auth)
    request("POST", "/api/v1/admin/services", {"slug": "s", "name": "S", "hisp": "h", "channels": ["website"]}, auth)
    dep = json.loads(request("POST", "/api/v1/admin/deployments",
                             {"instrument": "a11-v2-thumbs", "service": "s", "channel": "website",
                              "transaction_point": "outage test"}, auth)[2])["id"]
    path = f"/api/v1/deployments/{dep}/responses"

    t0 = time.time()
    log = []  # (t, status, seconds, retry_after)
    ready = []  # (t, status)
    lock = threading.Lock()
    stop = threading.Event()
    pending = []
    all_sids = set()

    def client():
        # One client with a retry queue: a response is retried until it is acknowledged.
        queue = []
        while not stop.is_set():
            sid = queue.pop(0) if queue else str(uuid.uuid4())
            with lock:
                all_sids.add(sid)
            start = time.time()
            try:
                status, ra, _ = request("POST", path, {"submission_id": sid, "answers": {"trust": 1}})
            except OSError:
                status, ra = None, None
            took = time.time() - start
            with lock:
                log.append((start - t0, status, took, ra))
            if status not in (200, 201):
                queue.append(sid)
                time.sleep(float(ra) if ra else 0.5)
            else:
                time.sleep(0.02)
        with lock:
            pending.extend(queue)

    def readiness():
        while not stop.is_set():
            try:
                s = request("GET", "/readyz", timeout=10)[0]
            except OSError:
                s = None
            ready.append((time.time() - t0, s))
            time.sleep(1)

    threads = [threading.Thread(target=client) for _ in range(8)] + [threading.Thread(target=readiness)]
    for t in threads:
        t.start()
    time.sleep(5)
    down_at = time.time() - t0
    cluster("stop")
    time.sleep(OUTAGE)
    up_at = time.time() - t0
    cluster("start")
    time.sleep(15)
    stop.set()
    for t in threads:
        t.join()
    # Whatever the clients still held is sent once more, now that all is well.
    for sid in pending:
        request("POST", path, {"submission_id": sid, "answers": {"trust": 1}})
    alive = proc.poll() is None
    out = subprocess.run(["psql", f"{PG}/{name}", "-Atc",
                          f"SELECT count(*), count(DISTINCT submission_id) FROM responses WHERE deployment_id = '{dep}'"],
                         check=True, capture_output=True, text=True).stdout.strip()
    proc.terminate()
    proc.wait()
    rows, distinct = map(int, out.split("|"))

    def phase(a, b):
        xs = [x for x in log if a <= x[0] < b]
        by = {}
        for x in xs:
            by[x[1]] = by.get(x[1], 0) + 1
        worst = max((x[2] for x in xs), default=0)
        no_ra = sum(1 for x in xs if x[1] == 503 and not x[3])
        return f"{len(xs)} requests {dict(sorted(by.items(), key=lambda kv: str(kv[0])))}, slowest {worst:.2f} s, 503 without Retry-After {no_ra}"

    print(f"before  (0–{down_at:.0f} s): {phase(0, down_at)}")
    print(f"outage  ({down_at:.0f}–{up_at:.0f} s): {phase(down_at, up_at)}")
    print(f"after   ({up_at:.0f} s–): {phase(up_at, 1e9)}")
    rd = lambda a, b: sorted({s for t, s in ready if a <= t < b}, key=str)
    print(f"/readyz before {rd(0, down_at)}, during {rd(down_at + 1, up_at)}, after {rd(up_at + 5, 1e9)}")
    first_ok = min((x[0] for x in log if x[0] >= up_at and x[1] in (200, 201)), default=None)
    print(f"first 201 after PostgreSQL came back: {first_ok - up_at:.1f} s" if first_ok else "no 201 after the outage")
    print(f"server process alive throughout: {alive}; responses stored {rows}, distinct {distinct}, "
          f"submission ids sent {len(all_sids)}")
    ok = alive and rows == distinct == len(all_sids) and first_ok is not None \
        and all(x[2] < 12 for x in log)
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Crash durability: drive intake at full speed, kill -9 the server at random moments, restart
it, and check that every response that got a 201/200 is stored exactly once, and that nothing
is stored that was not sent.

    python3 bench/crash.py                 # 20 kills on SQLite and 20 on PostgreSQL
    python3 bench/crash.py --kills 5 --backends sqlite

Needs a release build (`cargo build --release`) and PostgreSQL on 127.0.0.1:5432. Standard
library only. After the kills, the requests that were in flight (sent, no answer) are sent
again, as the widget's queue would: each must then answer 201 or 200, and the stored set must
equal the sent set exactly.
"""
import argparse
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cx-survey")
PG = os.environ.get("PG", "postgres://postgres@127.0.0.1:5432")
PORT = 18087


def request(method, path, body=None, headers=None, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json", **(headers or {})})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_up(proc):
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if request("GET", "/healthz", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("server did not come up")


def start(env):
    return subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{PORT}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stored(backend, url, dep):
    if backend == "sqlite":
        c = sqlite3.connect(url[len("sqlite://"):])
        return [r[0] for r in c.execute(
            "SELECT submission_id FROM responses WHERE deployment_id = ?", (dep,))]
    out = subprocess.run(["psql", url, "-Atc",
                          f"SELECT submission_id FROM responses WHERE deployment_id = '{dep}'"],
                         check=True, capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l]


def run(backend, kills, workers):
    tmp = tempfile.mkdtemp(prefix="cx-crash-")
    if backend == "sqlite":
        url = f"sqlite://{tmp}/crash.db"
    else:
        name = "cx_crash_bench"
        subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
                        "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        url = f"{PG}/{name}"
    env = dict(os.environ, DATABASE_URL=url, CX_SURVEY_DEFS=os.path.join(ROOT, "survey-defs"),
               CX_RATE_LIMIT_PER_MINUTE="0", RUST_LOG="error")
    key = subprocess.run([BIN, "keys", "create", "--agency", "crash"], env=env, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    proc = start(env)
    wait_up(proc)
    auth = {"Authorization": f"Bearer {key}"}
    request("POST", "/api/v1/admin/hisps", {"slug": "h", "name": "H"}, auth)
    request("POST", "/api/v1/admin/services",
            {"slug": "s", "name": "S", "hisp": "h", "channels": ["website"]}, auth)
    st, body = request("POST", "/api/v1/admin/deployments",
                       {"instrument": "a11-v2-thumbs", "service": "s", "channel": "website",
                        "transaction_point": "crash test"}, auth)
    dep = json.loads(body)["id"]
    path = f"/api/v1/deployments/{dep}/responses"

    sent, acked, unanswered = set(), set(), set()
    lock = threading.Lock()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            sid = str(uuid.uuid4())
            with lock:
                sent.add(sid)
            try:
                status, _ = request("POST", path, {"submission_id": sid, "answers": {"trust": 1}}, timeout=3)
            except OSError:
                status = None
            with lock:
                if status in (200, 201):
                    acked.add(sid)
                else:
                    unanswered.add(sid)
            if status is None:
                time.sleep(0.02)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    t0 = time.time()
    for k in range(kills):
        time.sleep(random.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(random.uniform(0.05, 0.3))
        proc = start(env)
        wait_up(proc)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.time() - t0

    rows = stored(backend, url, dep)
    counts = {}
    for r in rows:
        counts[r] = counts.get(r, 0) + 1
    dupes = [s for s, n in counts.items() if n > 1]
    missing = [s for s in acked if s not in counts]
    strangers = [s for s in counts if s not in sent]
    committed_unacked = [s for s in unanswered if s in counts]
    # What a client's retry queue does next: send every unanswered one again.
    retried_ok = 0
    for sid in sorted(unanswered):
        status, _ = request("POST", path, {"submission_id": sid, "answers": {"trust": 1}})
        if status in (200, 201):
            retried_ok += 1
    final = stored(backend, url, dep)
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    ok = not dupes and not missing and not strangers and retried_ok == len(unanswered) \
        and sorted(final) == sorted(sent)
    print(f"{backend}: {kills} kill -9 in {elapsed:.1f} s; sent {len(sent)}, acknowledged "
          f"{len(acked)}, stored {len(rows)}; acknowledged but missing {len(missing)}, stored twice "
          f"{len(dupes)}, stored but never sent {len(strangers)}; unanswered (in flight at a kill, or refused while down) "
          f"{len(unanswered)} (of which committed, answer lost {len(committed_unacked)}); "
          f"after resending those: {retried_ok}/{len(unanswered)} answered 200/201, stored "
          f"{len(final)} = sent {len(sent)}: {'OK' if ok else 'FAILED'}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--backends", default="sqlite,postgres")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    results = [run(b, a.kills, a.workers) for b in a.backends.split(",")]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()

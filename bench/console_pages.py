"""Times every staff console page for bench/console.sh: BASE LINK (a break-glass sign-in URL).

One keep-alive connection, ROUNDS requests per page after two unmeasured ones; time to the
last byte of the body. The responses pages use the seeded quarter (FY2026 Q2); the 100th page
is reached by following rel="next" from the first, as a person would.
"""
import http.client
import os
import re
import statistics
import sys
import time
from urllib.parse import urlparse

BASE, LINK = sys.argv[1], sys.argv[2]
ROUNDS = int(os.environ.get("ROUNDS", "30"))
host = urlparse(BASE)
conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)


def get(path, cookie=None):
    headers = {"Cookie": f"cx_session={cookie}"} if cookie else {}
    t0 = time.perf_counter()
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    return r, body.decode("utf-8", "replace"), (time.perf_counter() - t0) * 1000


r, _, _ = get(urlparse(LINK).path)
assert r.status == 303, r.status
COOKIE = re.search(r"cx_session=([^;]+)", r.getheader("Set-Cookie")).group(1)

_, page, _ = get("/admin/deployments", COOKIE)
DEP = re.search(r'href="/admin/deployments/([0-9a-f-]{36})"', page).group(1)
Q = "fiscal_year=2026&quarter=2"
first = f"/admin/responses?{Q}&status=any"
path, hops = first, 0
while hops < 99:
    _, page, _ = get(path, COOKIE)
    m = re.search(r'rel="next" href="([^"]+)"', page)
    assert m, f"no next link after {hops} pages"
    path, hops = m.group(1).replace("&amp;", "&"), hops + 1
hundredth = path

pages = [
    ("overview (dashboard: issue 15)", "/admin"),
    ("deployments list", "/admin/deployments"),
    ("deployment detail", f"/admin/deployments/{DEP}"),
    ("new deployment form", "/admin/deployments/new"),
    ("close confirmation", f"/admin/deployments/{DEP}/close"),
    ("responses, page 1", first),
    ("responses, page 100", hundredth),
    ("responses, one deployment", f"/admin/responses?{Q}&deployment={DEP}"),
    ("responses, status spam", f"/admin/responses?{Q}&status=spam"),
    ("responses, words search (issue 15)", f"/admin/responses?{Q}&status=any&words=slow"),
    ("volumes", "/admin/volumes"),
    ("invitations", "/admin/invitations"),
    ("import", "/admin/import"),
    ("quarterly files", "/admin/reports"),
    ("users", "/admin/users"),
    ("keys", "/admin/keys"),
    ("audit log", "/admin/audit"),
    ("agencies", "/admin/agency"),
]
print(f"{'page':38} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  bytes")
for name, path in pages:
    times = []
    for i in range(ROUNDS + 2):
        r, body, ms = get(path, COOKIE)
        assert r.status == 200, f"{path}: {r.status}"
        if i >= 2:
            times.append(ms)
    times.sort()
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    print(f"{name:38} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}  {len(body)}")

#!/usr/bin/env python3
"""Page times of the admin UI and its API equivalents, for bench/ui.sh (issue #25).

Each page is requested N times in a row over one keep-alive connection (after WARM
requests not counted), and the time from sending the request to reading the whole answer is
recorded. Prints one `PAGE name=… n=… p50_ms=… p95_ms=… p99_ms=… max_ms=… bytes=…` line
per page, then a table. A page stops early after CAP seconds (n then says how many were
timed). Any answer other than 200 fails the run.

    python3 bench/ui_pages.py BASE_URL SESSION_COOKIE ADMIN_TOKEN CONTACTS

Environment: N (200), WARM (5), CAP (90 s), DEEP (100 Next links followed for the deep
page), SEED (1, which contacts are picked).
"""
import html
import http.client
import json
import os
import random
import re
import sys
import time
import urllib.parse

BASE, COOKIE, TOKEN, CONTACTS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
N = int(os.environ.get("N", "200"))
WARM = int(os.environ.get("WARM", "5"))
CAP = float(os.environ.get("CAP", "90"))
DEEP = int(os.environ.get("DEEP", "100"))
rng = random.Random(int(os.environ.get("SEED", "1")))
host = urllib.parse.urlsplit(BASE)
conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)


def get(path, api=False):
    headers = {"Authorization": f"Bearer {TOKEN}"} if api else {"Cookie": f"rebound_session={COOKIE}"}
    t0 = time.perf_counter()
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    dt = (time.perf_counter() - t0) * 1000
    if r.status != 200:
        sys.exit(f"GET {path}: HTTP {r.status}: {body[:300]!r}")
    return dt, body


def email(n):
    return f"user{n}@example{n % 97}.com"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))]


def measure(name, paths, api=False, ui=True):
    """paths: a function i -> path."""
    for i in range(WARM):
        get(paths(-1 - i), api)
    times, size, start = [], 0, time.perf_counter()
    for i in range(N):
        dt, body = get(paths(i), api)
        times.append(dt)
        size += len(body)
        if time.perf_counter() - start > CAP:
            break
    row = dict(name=name, n=len(times), p50=pct(times, 50), p95=pct(times, 95),
               p99=pct(times, 99), max=max(times), bytes=size // len(times), ui=ui)
    print(f"PAGE name={name} n={row['n']} p50_ms={row['p50']:.2f} p95_ms={row['p95']:.2f} "
          f"p99_ms={row['p99']:.2f} max_ms={row['max']:.2f} bytes={row['bytes']}", flush=True)
    return row


def deep_ui(start):
    path = start
    for _ in range(DEEP):
        _, body = get(path)
        m = re.search(rb'href="(/contacts\?[^"]*cursor=[^"]*)"', body)
        if not m:
            break
        path = html.unescape(m.group(1).decode())
    return path


def deep_api(start):
    path = start
    for _ in range(DEEP):
        _, body = get(path, api=True)
        cursor = json.loads(body).get("next_cursor")
        if not cursor:
            break
        path = start + "&cursor=" + urllib.parse.quote(cursor)
    return path


def picks():
    """Random existing contacts, a new one for every request."""
    return lambda i: rng.randint(1, CONTACTS)


rows = []
rows.append(measure("ui dashboard /", lambda i: "/"))
rows.append(measure("ui contacts ?status=bounced, page 1", lambda i: "/contacts?status=bounced"))
deep = deep_ui("/contacts?status=bounced")
print(f"deep UI page ({DEEP} Next links): {deep}", flush=True)
rows.append(measure(f"ui contacts ?status=bounced, page {DEEP + 1}", lambda i: deep))
# The cursor is the last id shown: half the ids is the middle of the table.
middle = f"/contacts?q=&status=bounced&cursor={CONTACTS // 2}"
rows.append(measure("ui contacts ?status=bounced, middle", lambda i: middle))
pick = picks()
rows.append(measure("ui contact detail (random)",
                    lambda i: "/contacts/" + urllib.parse.quote(email(pick(i)), safe="@")))
rows.append(measure("ui log /log", lambda i: "/log"))
rows.append(measure("api GET /contacts?status=bounced", lambda i: "/api/v1/contacts?status=bounced", True, False))
deep_a = deep_api("/api/v1/contacts?status=bounced")
rows.append(measure(f"api contacts, page {DEEP + 1}", lambda i: deep_a, True, False))
rows.append(measure("api GET /contacts/{email} (random)",
                    lambda i: "/api/v1/contacts/" + urllib.parse.quote(email(pick(i)), safe="@"), True, False))
rows.append(measure("api GET /events?email= (random)",
                    lambda i: "/api/v1/events?email=" + urllib.parse.quote(email(pick(i))), True, False))
rows.append(measure("api GET /log", lambda i: "/api/v1/log", True, False))
rows.append(measure("api GET /stats/deliverability", lambda i: "/api/v1/stats/deliverability", True, False))

print()
print(f"| page | n | p50 ms | p95 ms | p99 ms | max ms | KiB | target p95 < 200 ms |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
missed = 0
for r in rows:
    verdict = "—"
    if r["ui"]:
        verdict = "met" if r["p95"] < 200 else "MISSED"
        missed += verdict != "met"
    print(f"| {r['name']} | {r['n']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
          f"{r['max']:.1f} | {r['bytes'] / 1024:.1f} | {verdict} |")
print(f"UI_PAGES missed={missed}")

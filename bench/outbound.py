#!/usr/bin/env python3
"""Helpers of bench/outbound.sh (standard library only).

  outbound.py receive PORT FILE   a webhook receiver: answers 204 at once, appends one line
                                  per request to FILE (arrival time, webhook-id, the
                                  payload's `timestamp`); GET /count flushes FILE and
                                  answers how many requests and distinct ids it got.
  outbound.py drive URL RATE SECONDS TAG
                                  POSTs ToSend hard bounces, each for a new address (each
                                  one a status change), at RATE per second for SECONDS, from
                                  4 threads on keep-alive connections; prints one line:
                                  sent, 2xx, errors, the rate achieved, the worst lag.
  outbound.py latency FILE        commit-to-delivery latency of every distinct message in
                                  FILE: arrival minus the payload's `timestamp` (the
                                  outbox row's created_at, taken in the transaction of the
                                  change); prints count, duplicates, p50/p95/p99/max in ms.
  outbound.py rate FILE SINCE     deliveries per second in FILE from SINCE (a Unix time).
"""

import http.client
import http.server
import json
import sys
import threading
import time
from datetime import datetime
from urllib.parse import urlsplit


def receive(port, path):
    out = open(path, "a", buffering=1 << 16)
    lock = threading.Lock()
    seen = set()
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            at = time.time()
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()
            wid = self.headers.get("webhook-id", "")
            try:
                ts = json.loads(body).get("timestamp", "")
            except ValueError:
                ts = ""
            with lock:
                count[0] += 1
                seen.add(wid)
                out.write(f"{at:.6f} {wid} {ts}\n")

        def do_GET(self):
            with lock:
                out.flush()
                answer = json.dumps({"requests": count[0], "ids": len(seen)}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def drive(url, rate, seconds, tag):
    u = urlsplit(url)
    threads = 4
    per = rate / threads
    n = int(rate * seconds)
    stats = {"sent": 0, "ok": 0, "err": 0, "lag": 0.0}
    lock = threading.Lock()
    start = time.time() + 0.2

    def run(k):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        sent = ok = err = 0
        lag = 0.0
        i = 0
        while True:
            seq = k + threads * i
            if seq >= n:
                break
            due = start + i / per
            now = time.time()
            if due > now:
                time.sleep(due - now)
            else:
                lag = max(lag, now - due)
            body = json.dumps({
                "type": "bounce",
                "email": f"o{tag}.{seq}@example.com",
                "reason": "smtp; 550 5.1.1 The email account does not exist",
                "is_hard_bounce": True,
                "message_id": f"msg_{tag}_{seq}",
            })
            try:
                conn.request("POST", u.path, body, {"content-type": "application/json"})
                r = conn.getresponse()
                r.read()
                sent += 1
                if 200 <= r.status < 300:
                    ok += 1
                else:
                    err += 1
            except (OSError, http.client.HTTPException):
                err += 1
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            i += 1
        with lock:
            stats["sent"] += sent
            stats["ok"] += ok
            stats["err"] += err
            stats["lag"] = max(stats["lag"], lag)

    ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.time() - start
    print(f"DRIVE sent={stats['sent']} ok2xx={stats['ok']} errors={stats['err']} "
          f"seconds={took:.2f} rate={stats['ok'] / took:.0f} worst_lag_ms={stats['lag'] * 1000:.0f}")


def records(path):
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                yield float(parts[0]), parts[1], parts[2]


def pct(xs, p):
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def latency(path):
    first = {}
    total = 0
    for at, wid, ts in records(path):
        total += 1
        if wid in first:
            continue
        made = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        first[wid] = (at - made) * 1000
    xs = sorted(first.values())
    print(f"LATENCY messages={len(xs)} duplicates={total - len(xs)} p50_ms={pct(xs, 50):.0f} "
          f"p95_ms={pct(xs, 95):.0f} p99_ms={pct(xs, 99):.0f} max_ms={max(xs, default=0):.0f}")


def rate(path, since):
    ats = sorted(at for at, _, _ in records(path) if at >= since)
    if not ats:
        print("RATE deliveries=0")
        return
    took = ats[-1] - since
    print(f"RATE deliveries={len(ats)} seconds={took:.2f} per_s={len(ats) / took:.0f} "
          f"first_after_ms={(ats[0] - since) * 1000:.0f}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "receive":
        receive(int(sys.argv[2]), sys.argv[3])
    elif cmd == "drive":
        drive(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif cmd == "latency":
        latency(sys.argv[2])
    elif cmd == "rate":
        rate(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit(__doc__)

-- Shared by the wrk scripts in bench/ (loaded with dofile from the repository root): each
-- thread registers itself, counts its 2xx / non-2xx answers in `ok` / `non2xx` (the
-- script's response function does), and the end prints one machine-readable line:
-- "WRK_RESULT key=value ...", latencies in milliseconds.
threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local ok_total, bad_total = 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("non2xx")
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "WRK_RESULT requests=%d ok2xx=%d non2xx=%d sock_errors=%d timeouts=%d seconds=%.2f rps=%.0f ok_rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, ok_total, bad_total, e.connect + e.read + e.write, e.timeout, secs,
    summary.requests / secs, ok_total / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end

-- wrk script for bench/unsubscribe.sh: POSTs the RFC 8058 one-click body to one of the
-- minted unsubscribe URLs (paths read from a file, one per line), each thread walking the
-- list from its own offset; or, with the path /healthz, GETs the health check (the floor).
--
--   wrk ... -s bench/unsubscribe.lua URL -- PATHS_FILE
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  health = wrk.path == "/healthz"
  if not health then
    for line in io.lines(args[1]) do
      if line ~= "" then table.insert(paths, line) end
    end
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.body = "List-Unsubscribe=One-Click"
  end
  n = tid * 7919
  ok = 0
  non2xx = 0
end

function request()
  if health then return wrk.format(nil, "/healthz") end
  n = n + 1
  return wrk.format(nil, paths[(n % #paths) + 1])
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else non2xx = non2xx + 1 end
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

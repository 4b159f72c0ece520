-- wrk script for bench/ui.sh: GET /api/v1/suppressions/{address} for random addresses of the
-- seeded set (user{N}@example{N % 97}.com, N = 1..CONTACTS) with a `check` key, or (with
-- the path /healthz) the bare health check. Prints one WRK_RESULT line as bench/tosend.lua.
--
--   wrk ... -s bench/check.lua URL -- CONTACTS KEY
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  contacts = tonumber(args[1]) or 1000
  key = args[2] or ""
  math.randomseed(tid * 7919)
  ok = 0
  non2xx = 0
  health = wrk.path == "/healthz"
  if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
end

function request()
  if health then return wrk.format("GET", "/healthz") end
  local n = math.random(1, contacts)
  return wrk.format("GET", "/api/v1/suppressions/user" .. n .. "@example" .. (n % 97) .. ".com")
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else non2xx = non2xx + 1 end
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

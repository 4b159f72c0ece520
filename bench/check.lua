-- wrk script for bench/ui.sh: GET /api/v1/suppressions/{address} for random addresses of the
-- seeded set (user{N}@example{N % 97}.com, N = 1..CONTACTS) with a `check` key, or (with
-- the path /healthz) the bare health check. Prints one WRK_RESULT line as bench/tosend.lua.
--
--   wrk ... -s bench/check.lua URL -- CONTACTS KEY
dofile("bench/wrk_result.lua")

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

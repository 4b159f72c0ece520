-- wrk script for bench/unsubscribe.sh: POSTs the RFC 8058 one-click body to one of the
-- minted unsubscribe URLs (paths read from a file, one per line), each thread walking the
-- list from its own offset; or, with the path /healthz, GETs the health check (the floor).
--
--   wrk ... -s bench/unsubscribe.lua URL -- PATHS_FILE
dofile("bench/wrk_result.lua")

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

-- wrk script for bench/run.sh: POSTs a ToSend bounce webhook with a different address and
-- message_id on every request, and counts 2xx / non-2xx responses itself (wrk only
-- reports "Non-2xx or 3xx").
--
--   wrk -t2 -c100 -d10s -s bench/tosend.lua http://127.0.0.1:PORT/webhooks/tosend/KEY -- TAG [OFFSET]
--
-- TAG (default "run") is put in every message_id, so runs never repeat one. OFFSET (default
-- 0) is added to the thread numbers, which choose the addresses and message_ids. The last line
-- printed is machine-readable: "WRK_RESULT key=value ...", latencies in milliseconds.

dofile("bench/wrk_result.lua")

function init(args)
  tag = args[1] or "run"
  -- Several wrk processes in parallel (bench/postgres.sh, one per node) pass different
  -- offsets, so that their threads send what the threads of one wrk process would, not the
  -- same addresses at the same moment.
  tid = tid + (tonumber(args[2]) or 0)
  n = 0
  ok = 0
  non2xx = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local reasons = {
  [0] = '"smtp; 550 5.1.1 The email account does not exist","is_hard_bounce":true',
  [1] = '"smtp; 452 4.2.2 Mailbox full","is_hard_bounce":false',
  [2] = '"smtp; 550 5.7.1 Message rejected as spam","is_hard_bounce":true',
}

function request()
  n = n + 1
  local seq = tid * 100000000 + n
  local body = '{"type":"bounce","email":"user' .. (seq % 200003) .. '@example.com","reason":'
    .. reasons[n % 3] .. ',"message_id":"msg_' .. tag .. '_' .. seq .. '"}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
  end
end

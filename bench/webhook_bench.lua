-- wrk script for bench/webhook_bench.py: posts pre-signed call events, each exactly once.
-- The requests file has one request per line: integration id, timestamp, signature, body (tab-separated).
-- Thread i of n sends lines i, i+n, i+2n, ... and stops when its share is answered.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local idle = wrk.format("GET", "/static/touchline.css")

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  -- wrk may build a thread's first request before its connections are up and not send it:
  -- let that be a harmless GET, never an event.
  requests, sent, answered, non200, posts = {idle}, 0, 0, 0, 0
  local n = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if n % nthreads == id then
      local integration, ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
      posts = posts + 1
      requests[#requests + 1] = wrk.format("POST", "/webhooks/calls", {
        ["Content-Type"] = "application/json", ["X-Touchline-Integration"] = integration,
        ["X-Touchline-Timestamp"] = ts, ["X-Touchline-Signature"] = sig}, body)
    end
    n = n + 1
  end
end

function request()
  sent = sent + 1
  -- Past its share a connection asks for a static file (wrk always wants a request):
  -- never a second post of an event.
  return requests[sent] or idle
end

function response(status, headers, body)
  if body:find('"applied"', 1, true) or body:find('"error"', 1, true) then
    answered = answered + 1
    if status ~= 200 then non200 = non200 + 1 end
    if answered >= posts then wrk.thread:stop() end
  end
end

function done(summary, latency, requests_)
  local total_non200 = 0
  for _, thread in ipairs(threads) do total_non200 = total_non200 + thread:get("non200") end
  io.write(string.format("NON200 %d\n", total_non200))
end

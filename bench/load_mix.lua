-- wrk script for bench/load_test.py --tool wrk: the same mixed rep workload as bench/locustfile.py,
-- from a load tool that costs the two cores it shares with the app a tenth of locust's CPU.
--
-- Each request is one rep's action, the rep drawn at random from the plan: open one of their leads
-- (the lead, then its timeline), log a call on it, search contacts, or ask for the next lead; with
-- locust's weights (4, 2, 3, 2). There is no pause between requests: each of wrk's connections sends
-- its next request when the last is answered, so the throughput is what the app can serve at that
-- many requests in flight, and latency is measured from sending to the last byte of the answer.
--
-- Read from the environment (load_test.py sets them): LOADMIX_PLAN, a file with one rep per line:
-- token, lead ids (comma-separated) and search terms (URL-encoded, "|"-separated), tab-separated;
-- LOADMIX_QUEUE ("1" to include next lead); LOADMIX_RUN, a prefix that makes this run's provider ids
-- its own; LOADMIX_OUT, where done() writes its figures as JSON; LOADMIX_ONLY, one kind to send alone.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function split(text, sep)
  local out = {}
  for part in string.gmatch(text, "([^" .. sep .. "]+)") do out[#out + 1] = part end
  return out
end

function init(args)
  math.randomseed(1000 + id)
  -- provider ids unique to this run: a second run must log new calls, not find the first run's (200)
  run = os.getenv("LOADMIX_RUN") .. string.format("%02d", id)
  reps = {}
  for line in io.lines(os.getenv("LOADMIX_PLAN")) do
    local token, leads, searches = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
    local ids = split(leads, ",")
    reps[#reps + 1] = {auth = "Bearer " .. token, leads = ids, searches = split(searches, "|")}
  end
  local queue = os.getenv("LOADMIX_QUEUE") == "1"
  -- the weighted kinds, as a bag to draw from
  kinds = {}
  local weights = {{"open_lead", 4}, {"log_call", 2}, {"search", 3}}
  if queue then weights[#weights + 1] = {"next_lead", 2} end
  local only = os.getenv("LOADMIX_ONLY") or ""
  if only ~= "" then weights = {{only, 1}} end  -- load_test.py --only: one kind alone
  for _, kw in ipairs(weights) do
    for _ = 1, kw[2] do kinds[#kinds + 1] = kw[1] end
  end
  pending = nil  -- the timeline request that follows an opened lead
  sent = {lead = 0, timeline = 0, log_call = 0, search = 0, next_lead = 0}
  statuses = {}
  bad = 0
end

local outcomes = {"no_answer", "connected", "voicemail", "busy"}

local function hex(n)
  local t = {}
  for i = 1, n do t[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(t)
end

function request()
  if pending then
    local req = pending
    pending = nil
    sent.timeline = sent.timeline + 1
    return req
  end
  local rep = reps[math.random(#reps)]
  local lead = rep.leads[math.random(#rep.leads)]
  local kind = kinds[math.random(#kinds)]
  local auth = {Authorization = rep.auth}
  if kind == "open_lead" then
    sent.lead = sent.lead + 1
    pending = wrk.format("GET", "/api/v1/touches?lead_id=" .. lead .. "&limit=20", auth)
    return wrk.format("GET", "/api/v1/leads/" .. lead, auth)
  elseif kind == "log_call" then
    sent.log_call = sent.log_call + 1
    local body = string.format('{"lead_id": %s, "channel": "call", "direction": "outbound", "outcome": "%s", '
      .. '"talk_seconds": %d, "provider": "loadtest", "external_id": "%s"}',
      lead, outcomes[math.random(#outcomes)], math.random(0, 300), run .. hex(24))
    return wrk.format("POST", "/api/v1/touches",
      {Authorization = rep.auth, ["Content-Type"] = "application/json"}, body)
  elseif kind == "search" then
    sent.search = sent.search + 1
    local term = rep.searches[math.random(#rep.searches)]
    return wrk.format("GET", "/api/v1/contacts?q=" .. term .. "&limit=20", auth)
  else
    sent.next_lead = sent.next_lead + 1
    return wrk.format("POST", "/api/v1/queue/next", {Authorization = rep.auth, ["Content-Type"] = "application/json"}, "{}")
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 400 then
    bad = bad + 1
    if bad <= 5 then io.stderr:write(string.format("HTTP %d: %s\n", status, string.sub(body or "", 1, 200))) end
  end
end

function done(summary, latency, requests_)
  local totals, codes = {}, {}
  for _, thread in ipairs(threads) do
    for kind, n in pairs(thread:get("sent")) do totals[kind] = (totals[kind] or 0) + n end
    for code, n in pairs(thread:get("statuses")) do codes[tostring(code)] = (codes[tostring(code)] or 0) + n end
  end
  local function object(t)
    local parts = {}
    for k, v in pairs(t) do parts[#parts + 1] = string.format('"%s": %d', k, v) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  local e = summary.errors
  local out = io.open(os.getenv("LOADMIX_OUT"), "w")
  out:write(string.format('{"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d, '
    .. '"mean": %.1f}, "sent": %s, "statuses": %s}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean, object(totals), object(codes)))
  out:close()
end

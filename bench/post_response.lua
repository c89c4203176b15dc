-- wrk script: POST a distinct valid response each request, count the status codes.
local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  created, other, last_other = 0, 0, 0
  path = "/api/v1/deployments/" .. os.getenv("DEPLOYMENT") .. "/responses"
  pause_ms = tonumber(os.getenv("DELAY_MS") or "0")
  run = os.getenv("RUN") or "0000"
  -- FORWARDED=1: each request from another client, as a trusted proxy reports it
  -- (exercises the shared per-client rate limit at full load).
  forwarded = os.getenv("FORWARDED") == "1"
end

function request()
  counter = counter + 1
  local sid = string.format("%08x-%s-4000-8000-%012x", tid, run, counter)
  local body = '{"submission_id":"' .. sid .. '","answers":{"trust":1,"went_well":["ease","efficiency"],"comments":"Quick and easy."}}'
  local headers = {["Content-Type"] = "application/json"}
  if forwarded then
    local n = (tonumber(run, 16) * 7919 + tid * 104729 + counter) % 131072
    headers["X-Forwarded-For"] = string.format("198.%d.%d.%d",
      18 + math.floor(n / 65536), math.floor(n / 256) % 256, n % 256)
  end
  return wrk.format("POST", path, headers, body)
end

if os.getenv("DELAY_MS") then
  function delay() return pause_ms end
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1; last_other = status end
end

function done(summary, latency, requests)
  local c, o, lo = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
    if t:get("last_other") ~= 0 then lo = t:get("last_other") end
  end
  io.write(string.format("RESULT requests=%d created=%d other=%d%s seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, c, o, lo ~= 0 and string.format(" (last %d)", lo) or "", summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end

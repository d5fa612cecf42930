-- wrk script for tests/perf/grant_bench.py: one pre-generated, single-use item per request.
--
-- env POOL   file with one item per line (written by grant_bench.py just before this run):
--              read:   "<DPoP proof>"                       -> GET  PATH, Authorization: DPoP TOKEN
--              token:  "<form body>\t<DPoP proof>"          -> POST PATH (form), DPoP: proof
--     MODE   read | token
--     REQ_PATH request path (e.g. /v1/service/records/<id> or /oauth/token)
--     TOKEN  the access token (MODE=read)
--     NTHREADS wrk's -t (default 1)
--     STATS  file to which done() appends one line: used, pool size, exhausted, status counts
--
-- Thread k of n uses lines k, k+n, k+2n, ... so no item is sent twice. When a thread runs out
-- of items it stops (wrk.thread:stop()) and the run is marked exhausted: grant_bench.py then
-- repeats the run with a bigger pool instead of recording it (a replayed proof would be a 401
-- and a stopped thread would dilute req/s).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

local items = {}
local n_items = 0
local pos = 0
used = 0
exhausted = 0
statuses = {}
local mode, path, token

function init(args)
  mode = os.getenv("MODE") or "read"
  path = os.getenv("REQ_PATH")
  token = os.getenv("TOKEN")
  local nth = tonumber(os.getenv("NTHREADS") or "1")
  local me = tid or 0
  local i = 0
  for line in io.lines(os.getenv("POOL")) do
    if i % nth == me then
      n_items = n_items + 1
      items[n_items] = line
    end
    i = i + 1
  end
  pool_size = n_items
end

function request()
  if exhausted == 1 or pos >= n_items then
    -- wrk may still ask for a request or two while stopping: never reuse an item
    if exhausted == 0 then
      exhausted = 1
      wrk.thread:stop()
    end
    return wrk.format("GET", "/healthz")
  end
  pos = pos + 1
  used = pos
  local item = items[pos]
  if mode == "read" then
    return wrk.format("GET", path, { ["Authorization"] = "DPoP " .. token, ["DPoP"] = item })
  end
  local tab = string.find(item, "\t", 1, true)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["DPoP"] = string.sub(item, tab + 1),
  }, string.sub(item, 1, tab - 1))
end

function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

function done(summary, latency, requests)
  local used_all, size_all, ex = 0, 0, 0
  local merged = {}
  for _, t in ipairs(threads) do
    used_all = used_all + (t:get("used") or 0)
    size_all = size_all + (t:get("pool_size") or 0)
    if (t:get("exhausted") or 0) > 0 then ex = 1 end
    for k, v in pairs(t:get("statuses") or {}) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local f = io.open(os.getenv("STATS"), "a")
  f:write(string.format('{"used": %d, "pool": %d, "exhausted": %s, "statuses": {%s}}\n',
    used_all, size_all, ex == 1 and "true" or "false", table.concat(parts, ", ")))
  f:close()
end

-- Cycle over the ids in IDS_FILE (lines "row_id resident_id"), one request per id in turn.
-- env: IDS_FILE, METHOD (GET|POST, default GET), SUFFIX ("" or "/touch")
local path = os.getenv("IDS_FILE")
local method = os.getenv("METHOD") or "GET"
local suffix = os.getenv("SUFFIX") or ""
local reqs = {}
local i = 0

function init(args)
  for line in io.lines(path) do
    local id, rid = line:match("^(%S+)%s+(%S+)$")
    if id then
      local body = nil
      if method == "POST" then body = "" end  -- sends Content-Length: 0
      reqs[#reqs + 1] = wrk.format(method, "/rows/" .. id .. suffix, { ["X-Resident-Id"] = rid }, body)
    end
  end
  i = 0
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

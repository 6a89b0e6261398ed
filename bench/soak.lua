-- wrk script of bench/soak.sh: a mixed, checking workload, one connection per wrk thread.
--
-- SOAK_OUT=DIR wrk -t N -c N -s bench/soak.lua URL -- BASE KEY PREFIX N CAP
--   BASE     the SCIM base path (/scim/v2)
--   KEY      the bearer token
--   PREFIX   makes userNames unique to this run ([a-z0-9-] only)
--   N        the number of connections (= threads)
--   CAP      the most users a thread keeps: below it, half the requests create; at it, a
--            create becomes a delete, so that the data set stops growing (0: no cap, the
--            mix alone, which grows the data set by about 0.08 users a request)
--   SOAK_OUT (environment) the directory for the journals and counts
--
-- soak.sh runs wrk with as many threads as connections, so each thread has exactly one
-- connection: wrk then calls request() and response() strictly in turn on it, and the
-- response seen is the answer to the request just made. That is what lets each thread
-- know exactly which users it created and deleted (its own counters and lists, nothing
-- shared), and check every answer against what it knows:
--
--   POST    a new user (userName PREFIX-TID-N@example.com)          201, id read back
--   GET     /Users/{id} of one of its own live users                 200 with its userName
--   filter  userName eq "<one of its own live users>"               200, totalResults 1, its id
--   PATCH   replace title, add an email                              200 with the new title
--   PUT     the whole user, same userName                            200 with the new title
--   list    25 users: a random startIndex, or the first cursor page
--           sorted by userName                                      200
--   DELETE  one of its own live users                                204
--   GET     /Users/{id} of a user it deleted                         404 (deletes stick)
--
-- Anything else is counted as "unexpected" by operation. Status classes are counted for
-- every response; done() writes the totals to SOAK_OUT/counts.
--
-- Each thread also keeps a journal of its writes, SOAK_OUT/journal.TID (buffered, flushed
-- when wrk exits): "C name" when a create is sent, "+ id name" on its 201, "D id name"
-- when a delete is sent, "- id" on its 204. soak.sh derives from it the users that must
-- be stored (created, not deleted) and the writes sent but never answered (in flight when
-- wrk stopped), whose outcome it asks the server. A journal rather than thread:get of big
-- tables in done(): wrk 4.1.0 (Debian) garbled a few strings of an 8,000-entry table so
-- copied. Note that wrk calls request() once more on the first thread before the run (to
-- count pipelined requests): that create is journaled but never sent, and the server,
-- asked, rightly has no such user.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local base, prefix, nconn, cap
local headers

-- Per-thread state (each wrk thread has its own Lua state).
local counter = 0          -- requests made
local created_n = 0        -- userNames handed out
local pos = {}             -- id -> index in live_ids
local deleted_ring, ring_n = {}, 0
local live_ids, live_names = {}, {} -- this thread's users: created (201), not deleted (204)
local pending = nil        -- the request in flight: { op = ..., id = ..., name = ..., title = ... }
local journal

-- Globals: done() reads them with thread:get (numbers and small tables only).
c2xx, c3xx, c4xx, c5xx, cother = 0, 0, 0, 0, 0
creates, deletes, expected404 = 0, 0, 0
unexpected = {}            -- op -> count
ops = {}                   -- op -> count of responses
lost_responses = 0         -- requests whose answer never came (not counting the last)
first_unexpected = ""      -- the first unexpected answer, for the report

local schemas_user = '"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",'
  .. '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]'

local function user_body(name, n, title)
  return '{' .. schemas_user .. ','
    .. '"userName":"' .. name .. '","externalId":"ext-' .. name .. '",'
    .. '"name":{"givenName":"Soak","familyName":"User' .. n .. '"},'
    .. '"displayName":"Soak User ' .. n .. '",'
    .. '"emails":[{"value":"' .. name .. '","type":"work","primary":true}],'
    .. '"title":"' .. title .. '","locale":"en-US","active":true,'
    .. '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":'
    .. '{"employeeNumber":"' .. n .. '","department":"Soak"}}'
end

function init(args)
  base, prefix, nconn, cap = args[1], args[3], tonumber(args[4]), tonumber(args[5])
  headers = {
    ["Authorization"] = "Bearer " .. args[2],
    ["Content-Type"] = "application/scim+json",
  }
  math.randomseed(tid * 7919 + os.time())
  local dir = assert(os.getenv("SOAK_OUT"), "SOAK_OUT is not set")
  journal = assert(io.open(dir .. "/journal." .. tid, "w"))
  journal:setvbuf("full")
end

local function pick()
  local i = math.random(#live_ids)
  return live_ids[i], live_names[i]
end

local function remove_live(id)
  local i = pos[id]
  if not i then return end
  local last = #live_ids
  live_ids[i], live_names[i] = live_ids[last], live_names[last]
  pos[live_ids[i]] = i
  live_ids[last], live_names[last] = nil, nil
  pos[id] = nil
end

local function forget_pending()
  -- A request whose response never came (socket error and reconnect, or wrk's extra
  -- request() before the run): its effect is unknown until soak.sh asks the server.
  if pending then
    lost_responses = lost_responses + 1
    if pending.op == "delete" then remove_live(pending.id) end
    pending = nil
  end
end

-- The mix, as cumulative probabilities, when the thread has live users.
local MIX = {
  { 0.22, "post" }, { 0.40, "get" }, { 0.53, "filter" }, { 0.67, "patch" },
  { 0.77, "put" }, { 0.83, "list" }, { 0.97, "delete" }, { 1.00, "get_deleted" },
}

function request()
  forget_pending()
  counter = counter + 1
  local op = "post"
  if #live_ids > 0 then
    local r = math.random()
    for _, m in ipairs(MIX) do
      if r < m[1] then op = m[2]; break end
    end
    if op == "get_deleted" and ring_n == 0 then op = "get" end
    if cap > 0 then
      -- Fill up to the cap fast (half the requests create), then hold there.
      if #live_ids < cap and math.random() < 0.5 then op = "post" end
      if op == "post" and #live_ids >= cap then op = "delete" end
    end
  end
  local p = { op = op }
  pending = p
  if op == "post" then
    created_n = created_n + 1
    p.name = prefix .. "-" .. tid .. "-" .. created_n .. "@example.com"
    journal:write("C ", p.name, "\n")
    return wrk.format("POST", base .. "/Users", headers, user_body(p.name, created_n, "Created"))
  elseif op == "get" then
    p.id, p.name = pick()
    return wrk.format("GET", base .. "/Users/" .. p.id, headers)
  elseif op == "filter" then
    p.id, p.name = pick()
    local q = "userName%20eq%20%22" .. p.name:gsub("@", "%%40") .. "%22"
    return wrk.format("GET", base .. "/Users?filter=" .. q, headers)
  elseif op == "patch" then
    p.id, p.name = pick()
    p.title = "Patched " .. counter
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['
      .. '{"op":"replace","path":"title","value":"' .. p.title .. '"},'
      .. '{"op":"add","path":"emails","value":[{"value":"extra-' .. counter .. '-' .. p.name
      .. '","type":"home"}]}]}'
    return wrk.format("PATCH", base .. "/Users/" .. p.id, headers, body)
  elseif op == "put" then
    p.id, p.name = pick()
    p.title = "Put " .. counter
    return wrk.format("PUT", base .. "/Users/" .. p.id, headers, user_body(p.name, counter, p.title))
  elseif op == "list" then
    if math.random() < 0.5 then
      -- startIndex within roughly what all threads hold between them.
      local start = math.random(math.max(1, #live_ids * nconn))
      return wrk.format("GET", base .. "/Users?startIndex=" .. start .. "&count=25", headers)
    end
    return wrk.format("GET", base .. "/Users?cursor=&count=25&sortBy=userName", headers)
  elseif op == "delete" then
    p.id, p.name = pick()
    journal:write("D ", p.id, " ", p.name, "\n")
    return wrk.format("DELETE", base .. "/Users/" .. p.id, headers)
  else -- get_deleted
    p.id = deleted_ring[math.random(ring_n)]
    return wrk.format("GET", base .. "/Users/" .. p.id, headers)
  end
end

local function bad(op, status, body)
  unexpected[op] = (unexpected[op] or 0) + 1
  if first_unexpected == "" then
    first_unexpected = op .. " -> " .. status .. " " .. string.sub(body or "", 1, 300)
  end
end

function response(status, _, body)
  if status >= 200 and status < 300 then c2xx = c2xx + 1
  elseif status >= 300 and status < 400 then c3xx = c3xx + 1
  elseif status >= 400 and status < 500 then c4xx = c4xx + 1
  elseif status >= 500 and status < 600 then c5xx = c5xx + 1
  else cother = cother + 1 end

  local p = pending
  pending = nil
  if not p then return end
  local op = p.op
  ops[op] = (ops[op] or 0) + 1
  if op == "post" then
    local id = status == 201 and string.match(body, '"id":"([^"]+)"')
    if id and not pos[id] then
      creates = creates + 1
      live_ids[#live_ids + 1], live_names[#live_names + 1] = id, p.name
      pos[id] = #live_ids
      journal:write("+ ", id, " ", p.name, "\n")
    else
      bad(op, status, body)
    end
  elseif op == "get" then
    if status ~= 200 or not string.find(body, '"userName":"' .. p.name .. '"', 1, true) then
      bad(op, status, body)
    end
  elseif op == "filter" then
    if status ~= 200 or not string.find(body, '"totalResults":1,', 1, true)
      or not string.find(body, '"id":"' .. p.id .. '"', 1, true) then
      bad(op, status, body)
    end
  elseif op == "patch" or op == "put" then
    if status ~= 200 or not string.find(body, '"title":"' .. p.title .. '"', 1, true) then
      bad(op, status, body)
    end
  elseif op == "list" then
    if status ~= 200 or not string.find(body, '"totalResults":', 1, true) then
      bad(op, status, body)
    end
  elseif op == "delete" then
    if status == 204 then
      deletes = deletes + 1
      remove_live(p.id)
      journal:write("- ", p.id, "\n")
      ring_n = ring_n % 64 + 1
      deleted_ring[ring_n] = p.id
    else
      bad(op, status, body)
    end
  elseif op == "get_deleted" then
    if status == 404 then
      expected404 = expected404 + 1
    else
      bad(op, status, body)
    end
  end
end

function done(summary, latency, _)
  local out = assert(os.getenv("SOAK_OUT"), "SOAK_OUT is not set")
  local sum = { c2xx = 0, c3xx = 0, c4xx = 0, c5xx = 0, cother = 0, creates = 0,
    deletes = 0, expected404 = 0, lost_responses = 0 }
  local unexp, opcount = {}, {}
  local firsts = assert(io.open(out .. "/first_unexpected", "w"))
  for _, t in ipairs(threads) do
    for k in pairs(sum) do
      sum[k] = sum[k] + (t:get(k) or 0)
    end
    for k, v in pairs(t:get("unexpected") or {}) do unexp[k] = (unexp[k] or 0) + v end
    for k, v in pairs(t:get("ops") or {}) do opcount[k] = (opcount[k] or 0) + v end
    local f = t:get("first_unexpected")
    if f and f ~= "" then firsts:write(f, "\n") end
  end
  firsts:close()
  local e = summary.errors
  local f = assert(io.open(out .. "/counts", "w"))
  f:write(string.format("requests %d\nduration_us %d\nrps %.1f\n", summary.requests,
    summary.duration, summary.requests / (summary.duration / 1e6)))
  f:write(string.format("p50_us %d\np99_us %d\nmax_us %d\n", latency:percentile(50),
    latency:percentile(99), latency.max))
  f:write(string.format("socket_errors %d\ntimeouts %d\n",
    e.connect + e.read + e.write, e.timeout))
  for _, k in ipairs({ "c2xx", "c3xx", "c4xx", "c5xx", "cother", "creates", "deletes",
    "expected404", "lost_responses" }) do
    f:write(k, " ", sum[k], "\n")
  end
  local total_unexpected = 0
  for _, op in ipairs({ "post", "get", "filter", "patch", "put", "list", "delete", "get_deleted" }) do
    f:write("op_", op, " ", opcount[op] or 0, "\n")
    f:write("unexpected_", op, " ", unexp[op] or 0, "\n")
    total_unexpected = total_unexpected + (unexp[op] or 0)
  end
  f:write("unexpected ", total_unexpected, "\n")
  f:close()
end

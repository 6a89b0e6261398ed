-- wrk script of bench/load.sh: one request type, against scimkit or against the limit
-- (examples/limit.rs, a separate process answering the same requests with fixed bodies).
--
-- wrk -s bench/scim.lua URL -- MODE BASE IDS_FILE KEY PREFIX USERS
--   MODE      get | filter | post | patch
--   BASE      /scim/v2 (for scimkit and for the limit alike)
--   IDS_FILE  ids of the seeded users, one a line
--   KEY       the bearer token
--   PREFIX    makes POSTed userNames unique to this run
--   USERS     how many users were seeded as user0@example.com ... user{USERS-1}@example.com
--   CURSOR    (mode cursor only) an RFC 9865 cursor of the server's
--
-- Modes page, cursor and sorted (bench/pages.sh) read one page of 100 users as Okta's
-- import does: `startIndex=401&count=100`, `cursor=CURSOR&count=100`, and
-- `sortBy=name.familyName&startIndex=401&count=100`. Mode groups reads a page of 100 groups
-- without their members (`/Groups?startIndex=401&count=100&excludedAttributes=members`).
--
-- Requests that do not change per request are built once in init(), so that the load
-- generator spends its core sending, not formatting. done() prints one RESULT line.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local mode, base, prefix, users
local headers
local prepared = {}
local counter = 0
local flipped = {}

local function user_body(user_name, i)
  return '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",'
    .. '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],'
    .. '"userName":"' .. user_name .. '","externalId":"ext-' .. user_name .. '",'
    .. '"name":{"givenName":"Barbara","familyName":"Jensen","formatted":"Barbara Jensen"},'
    .. '"displayName":"Barbara Jensen",'
    .. '"emails":[{"value":"' .. user_name .. '","type":"work","primary":true}],'
    .. '"phoneNumbers":[{"value":"+1 555 555 5555","type":"work"}],'
    .. '"title":"Tour Guide","locale":"en-US","active":true,'
    .. '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":'
    .. '{"employeeNumber":"' .. i .. '","department":"Tour Operations"}}'
end

local function patch_body(word)
  return '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['
    .. '{"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"' .. word .. '@example.com"},'
    .. '{"op":"Replace","path":"name.familyName","value":"' .. word .. '"},'
    .. '{"op":"Replace","path":"active","value":"True"}]}'
end

function init(args)
  mode, base = args[1], args[2]
  local ids_file, key = args[3], args[4]
  prefix, users = args[5], tonumber(args[6])
  headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/scim+json",
  }
  local ids = {}
  for line in io.lines(ids_file) do
    ids[#ids + 1] = line
  end
  math.randomseed(tid * 7919)
  if mode == "get" then
    for _, id in ipairs(ids) do
      prepared[#prepared + 1] = wrk.format("GET", base .. "/Users/" .. id, headers)
    end
  elseif mode == "filter" then
    for i = 0, users - 1 do
      local path = base .. "/Users?filter=userName%20eq%20%22user" .. i .. "%40example.com%22"
      prepared[#prepared + 1] = wrk.format("GET", path, headers)
    end
  elseif mode == "patch" then
    -- Two bodies per user, alternated, so that every PATCH changes the user.
    local bodies = { patch_body("Senior"), patch_body("Junior") }
    for _, id in ipairs(ids) do
      for _, body in ipairs(bodies) do
        prepared[#prepared + 1] = wrk.format("PATCH", base .. "/Users/" .. id, headers, body)
      end
    end
  elseif mode == "page" then
    prepared[1] = wrk.format("GET", base .. "/Users?startIndex=401&count=100", headers)
  elseif mode == "cursor" then
    prepared[1] = wrk.format("GET", base .. "/Users?count=100&cursor=" .. args[7], headers)
  elseif mode == "sorted" then
    prepared[1] = wrk.format("GET",
      base .. "/Users?sortBy=name.familyName&startIndex=401&count=100", headers)
  elseif mode == "groups" then
    prepared[1] = wrk.format("GET",
      base .. "/Groups?startIndex=401&count=100&excludedAttributes=members", headers)
  elseif mode ~= "post" then
    error("unknown mode " .. tostring(mode))
  end
end

function request()
  counter = counter + 1
  if mode == "post" then
    local name = prefix .. "-" .. tid .. "-" .. counter .. "@example.com"
    return wrk.format("POST", base .. "/Users", headers, user_body(name, counter))
  elseif mode == "patch" then
    -- Each user gets its two bodies in turn: every PATCH writes.
    local i = math.random(#prepared / 2)
    local turn = 1 - (flipped[i] or 0)
    flipped[i] = turn
    return prepared[2 * i - turn]
  end
  return prepared[math.random(#prepared)]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %d %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout))
end

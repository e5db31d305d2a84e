// The Lua module nginx loads when the Lua module (libnginx-mod-http-lua) is
// installed: it keeps each app's backends in a shared dict that Slipway
// fills over the control socket, so a deployment changes no configuration
// and never reloads nginx. Written to <dir>/lua/slipway_router.lua at start.
//
// The shared dict (shared memory of the master: it outlives worker restarts
// and reloads) holds:
//   r:<app>        "<id> <host> <port> <id> <host> <port> ..." (empty: no backends, 503)
//   f:<id>:<pid>   requests in flight to backend <id> through worker <pid>;
//                  each key has one writer (that worker), which deletes it at 0.
// Tokens (app, id) arrive URI-encoded, so they never hold a space or a newline.
//
// Per request: access() answers 503 for an app without backends; balance()
// picks a peer round-robin (per worker) from the app's parsed list, cached
// per worker and keyed by the dict value, so nothing is parsed per request;
// on a retry it moves to the peer after the one that failed. $slipway_peer
// names the backend being counted (variables survive error_page redirects),
// and log() uncounts it when the request ends.
//
// check_answer() is the header filter of proxied answers: it refuses what the
// built-in router refuses and nginx 1.22 would pass on (see its comment).
//
// Certificates (HTTPS, docs/https.md) live in a second shared dict, pushed
// whole over the control socket (PUT /certs) like the route table:
//   c:<hostname>   "<PEM chain>\0<PEM key>" (a hostname may be "*.<parent>")
// ssl_certificate() runs at each handshake (ssl_certificate_by_lua): the exact
// name, else the wildcard one label up, parsed once per worker and value;
// no certificate for the name fails the handshake, as in the built-in router.

export const LUA_MODULE_NAME = 'slipway_router';

/**
 * The status check_answer() ends a refused answer with. It never reaches a
 * client: the configuration maps it (error_page) to the 502 page, served with
 * Connection: close.
 */
export const REFUSED_ANSWER_STATUS = 599;

export const LUA_MODULE_SOURCE = String.raw`-- Written by Slipway at start; edits are overwritten.
local balancer = require "ngx.balancer"

local dict = ngx.shared.slipway_routes
local certs = ngx.shared.slipway_certs
local M = {}

local TOKEN = "[%w%-_%.!~%*'%(%)%%]+"
local ENTRY = "^ (" .. TOKEN .. ") ([%x:%.%[%]]+) (%d+)()"

local cache = {}  -- app -> { raw = dict value, peers = { {id, host, port} }, next = index }
local counts = {} -- backend id -> requests in flight through this worker

local function parse(raw)
  local peers = {}
  for id, host, port in raw:gmatch("(%S+) (%S+) (%d+)") do
    peers[#peers + 1] = { id = id, host = host, port = tonumber(port) }
  end
  return peers
end

local function route(app)
  if app == nil then return nil end
  local raw = dict:get("r:" .. app)
  if raw == nil then
    cache[app] = nil
    return nil
  end
  local entry = cache[app]
  if entry == nil or entry.raw ~= raw then
    entry = { raw = raw, peers = parse(raw), next = entry and entry.next or 0 }
    cache[app] = entry
  end
  return entry
end

local function count(id, delta)
  local n = (counts[id] or 0) + delta
  local key = "f:" .. id .. ":" .. ngx.worker.pid()
  if n <= 0 then
    counts[id] = nil
    dict:delete(key)
  else
    counts[id] = n
    local ok, err = dict:safe_set(key, n)
    if not ok then ngx.log(ngx.ERR, "slipway: cannot count a request in flight: ", err) end
  end
end

-- A worker that reuses the pid of one that crashed must not inherit its counts.
function M.init_worker()
  local suffix = ":" .. ngx.worker.pid()
  for _, key in ipairs(dict:get_keys(0)) do
    if key:sub(1, 2) == "f:" and key:sub(-#suffix) == suffix then dict:delete(key) end
  end
end

function M.access()
  local entry = route(ngx.var.slipway_app)
  if entry == nil or #entry.peers == 0 then return ngx.exec("@slipway_503") end
end

function M.balance()
  local var = ngx.var
  local entry = route(var.slipway_app)
  local peers = entry and entry.peers
  local n = peers and #peers or 0
  local previous = var.slipway_peer
  local peer
  if previous ~= nil and previous ~= "" then
    -- A retry: the peer after the one that failed (the same one when it is alone).
    count(previous, -1)
    var.slipway_peer = ""
    if n == 0 then return ngx.exit(ngx.ERROR) end
    local at = 0
    for k = 1, n do
      if peers[k].id == previous then
        at = k
        break
      end
    end
    peer = peers[at % n + 1]
  else
    if n == 0 then return ngx.exit(ngx.ERROR) end
    local k = entry.next % n + 1
    entry.next = k
    peer = peers[k]
    if n > 1 then balancer.set_more_tries(1) end
  end
  local ok, err = balancer.set_current_peer(peer.host, peer.port)
  if not ok then
    ngx.log(ngx.ERR, "slipway: cannot use backend ", peer.id, ": ", err)
    return ngx.exit(ngx.ERROR)
  end
  count(peer.id, 1)
  var.slipway_peer = peer.id
end

-- Answers nginx 1.22 passes on although they cannot be framed with certainty, which the
-- built-in router refuses with a 502: an unasked 101, differing Content-Lengths, no status
-- line at all. This runs before nginx reads any of the body: ngx.exit() here finalizes the
-- exchange with the backend at once, and since nginx has not seen the answer complete, the
-- connection is closed, not put back into the keep-alive pool. (Unless nginx already took the
-- answer for bodiless, as for a HEAD, a 204 or 304, or a last Content-Length of 0: it then keeps
-- the connection as for any such answer, and closes it if bytes wait on it or arrive later.)
-- Refusing: the status below goes through error_page to the 502 page. That error page is
-- sent from inside the filter (nginx's filter_finalize), which leaves the client connection
-- marked as failed: its location turns keep-alive off, so the client is told to close it.
local REFUSED = ${REFUSED_ANSWER_STATUS}

local function refuse(why)
  ngx.log(ngx.WARN, "slipway: refused the backend's answer (", why, ")")
  return ngx.exit(REFUSED)
end

function M.check_answer()
  local status = ngx.status
  local var = ngx.var
  if status == 101 then
    -- nginx tunnels a 101 only when the client sent Upgrade; otherwise it would pass the
    -- 101 on and then the backend's bytes as a body read to the end.
    local upgrade = var.http_upgrade
    if upgrade == nil or upgrade == "" then return refuse("101 Switching Protocols to a request without Upgrade") end
    return
  end
  if status < 100 then
    -- No status line: nginx took the answer for HTTP/0.9 and switched the client's answer
    -- to 0.9 too (ngx.status reads 9), so no status line can be written any more. Close the
    -- client connection with nothing sent.
    ngx.log(ngx.WARN, "slipway: refused the backend's answer (no status line); closing the client connection")
    return ngx.exit(ngx.ERROR)
  end
  -- nginx 1.22 frames the body by the last Content-Length line; $upstream_http_content_length
  -- reads the first one. Lines between them are out of reach from Lua.
  local first = var.upstream_http_content_length
  if first == nil then return end
  local framing = var.sent_http_content_length
  if first == framing then return end
  -- With Transfer-Encoding: chunked nginx ignores Content-Length (RFC 9112 §6.3).
  if framing == nil and var.upstream_http_transfer_encoding ~= nil then return end
  if framing ~= nil and first:find("^%d+$") and tonumber(first) == tonumber(framing) then return end
  return refuse("Content-Length " .. first:sub(1, 32) .. " beside " .. (framing or "one nginx cannot read"))
end

-- The log phase runs once per request, after any error page or tunnel.
function M.log()
  local peer = ngx.var.slipway_peer
  if peer ~= nil and peer ~= "" then count(peer, -1) end
end

local function answer(status, text)
  ngx.status = status
  ngx.header["Content-Type"] = "text/plain"
  ngx.say(text)
  return ngx.exit(status)
end

-- Makes the entries of store under prefix exactly wanted (key -> value): false, or true once it
-- answered 507 (the dict is full).
local function replace_all(store, prefix, wanted)
  for _, key in ipairs(store:get_keys(0)) do
    if key:sub(1, #prefix) == prefix and wanted[key] == nil then store:delete(key) end
  end
  for key, value in pairs(wanted) do
    if store:get(key) ~= value then
      local ok, err = store:safe_set(key, value)
      if not ok then
        answer(507, "cannot store " .. key .. ": " .. tostring(err))
        return true
      end
    end
  end
  return false
end

-- The body of a PUT held in memory, or nil once it answered (not a PUT, or too large: what).
local function put_body(what)
  if ngx.req.get_method() ~= "PUT" then return answer(405, "PUT only") end
  ngx.req.read_body()
  if ngx.req.get_body_file() ~= nil then return answer(413, what .. " too large") end
  return ngx.req.get_body_data() or ""
end

-- PUT /routes: the whole table, one line per app: "<app>[ <id> <host> <port>]*".
-- Checked in full before anything changes; apps left out are forgotten.
function M.put_routes()
  local body = put_body("route table")
  if body == nil then return end
  local wanted = {}
  local lines = 0
  for line in body:gmatch("[^\n]+") do
    lines = lines + 1
    local app, rest = line:match("^(" .. TOKEN .. ")(.*)$")
    if app == nil then return answer(400, "line " .. lines .. ": bad app name") end
    local pos = 1
    while pos <= #rest do
      local _, _, port, after = rest:match(ENTRY, pos)
      local number = tonumber(port)
      if after == nil or number < 1 or number > 65535 then
        return answer(400, "line " .. lines .. ": bad backend at column " .. pos)
      end
      pos = after
    end
    wanted["r:" .. app] = rest:sub(2)
  end
  if replace_all(dict, "r:", wanted) then return end
  return answer(200, "ok " .. lines)
end

local parsed = {} -- dict key -> { raw = dict value, chain = cdata, key = cdata }

function M.ssl_certificate()
  local ssl = require "ngx.ssl"
  local name = ssl.server_name()
  if name == nil then return ngx.exit(ngx.ERROR) end
  name = name:lower()
  local key = "c:" .. name
  local raw = certs:get(key)
  if raw == nil then
    local parent = name:match("^[^.]+%.(.+)$")
    if parent == nil then return ngx.exit(ngx.ERROR) end
    key = "c:*." .. parent
    raw = certs:get(key)
    if raw == nil then return ngx.exit(ngx.ERROR) end
  end
  local entry = parsed[key]
  if entry == nil or entry.raw ~= raw then
    local split = raw:find("\0", 1, true)
    local chain, err = ssl.parse_pem_cert(raw:sub(1, split - 1))
    local pkey, err2 = ssl.parse_pem_priv_key(raw:sub(split + 1))
    if chain == nil or pkey == nil then
      ngx.log(ngx.ERR, "slipway: certificate for ", name, " unusable: ", err or err2)
      return ngx.exit(ngx.ERROR)
    end
    entry = { raw = raw, chain = chain, key = pkey }
    parsed[key] = entry
  end
  ssl.clear_certs()
  local ok, err = ssl.set_cert(entry.chain)
  if ok then ok, err = ssl.set_priv_key(entry.key) end
  if not ok then
    ngx.log(ngx.ERR, "slipway: cannot set the certificate for ", name, ": ", err)
    return ngx.exit(ngx.ERROR)
  end
end

-- PUT /certs: every certificate, records of "<hostname> <length>\n<chain>\0<key>".
-- Checked in full before anything changes; hostnames left out are forgotten.
function M.put_certs()
  local body = put_body("certificates")
  if body == nil then return end
  local wanted = {}
  local pos, records = 1, 0
  while pos <= #body do
    records = records + 1
    local name, length, after = body:match("^([%w%-%.%*_]+) (%d+)\n()", pos)
    if name == nil then return answer(400, "record " .. records .. ": bad header") end
    local blob = body:sub(after, after + tonumber(length) - 1)
    if #blob ~= tonumber(length) or not blob:find("\0", 1, true) then
      return answer(400, "record " .. records .. ": bad certificate")
    end
    wanted["c:" .. name:lower()] = blob
    pos = after + #blob
  end
  if replace_all(certs, "c:", wanted) then return end
  return answer(200, "ok " .. records)
end

-- GET /inflight?ids=a,b&pids=1,2: requests in flight to those backends through those workers.
function M.inflight()
  local args = ngx.req.get_uri_args()
  local total = 0
  for id in tostring(args.ids or ""):gmatch("[^,]+") do
    for pid in tostring(args.pids or ""):gmatch("%d+") do
      total = total + (dict:get("f:" .. id .. ":" .. pid) or 0)
    end
  end
  return answer(200, tostring(total))
end

return M
`;

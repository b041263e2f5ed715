-- The benchmark's OpenResty peer ("openresty" in bench/run): the device
-- authentication a competent OpenResty user would write, with what Debian
-- 12 ships (nginx 1.22, libnginx-mod-http-lua 0.10.23 on LuaJIT, no Lua
-- library beyond lua-resty-core), for the same devices, credentials file,
-- headers and TTL as the iot setup.  It models:
--
--   - the credentials file of iot_auth_credentials ("id:bcrypt-hash"
--     lines), read once by init_by_lua; the workers inherit the table;
--   - a verdict cache in a lua_shared_dict, keyed by device id, holding a
--     SHA-256 digest of (secret key, device id, token) of the token that
--     was verified, for ttl seconds; a wrong token is cached by (device,
--     digest) for negative_ttl seconds;
--   - single-flight per device across the workers, the way lua-resty-lock
--     does it (not packaged in Debian): the shared dict's add() with an
--     expiry is the lock, the others poll with ngx.sleep, from 1 ms
--     doubling up to 0.5 s, for at most 5 s (lua-resty-lock's defaults);
--   - bcrypt by libxcrypt's crypt_rn through the FFI, run with
--     ngx.run_worker_thread() in an nginx thread pool
--     (openresty_bcrypt.lua), so that it does not block the event loop;
--     lua-nginx-module has that call since 0.10.21 and marks it
--     experimental;
--   - optionally a lockout: wrong tokens counted per device in a shared
--     dict, `failures` within `window` seconds lock the device for
--     `duration` seconds, except for the token in the cache.
--
-- What it leaves out, as such code usually does: an expired verdict is
-- verified again with bcrypt (no background refresh, no revalidation
-- against the stored hash), and one device's requests wait for each
-- other's bcrypt whatever token they carry.
--
-- Results, as in $iot_auth_result: HIT, WAIT (a HIT after waiting for the
-- lock), MISS (bcrypt, right token), DENIED (bcrypt, wrong token),
-- NEGATIVE, UNKNOWN, LOCKED, BUSY, ERROR.  Counters (not per HIT, so that
-- the cached path writes nothing shared) are served by status().

local ffi = require("ffi")

ffi.cdef[[
typedef struct evp_md_st EVP_MD;
EVP_MD *EVP_MD_fetch(void *libctx, const char *algorithm,
                     const char *properties);
int EVP_Digest(const void *data, size_t count, unsigned char *md,
               unsigned int *size, const EVP_MD *type, void *impl);
]]

local crypto = ffi.load("libcrypto.so.3")

local ngx = ngx
local shared = ngx.shared
local re_find = ngx.re.find
local run_worker_thread = ngx.run_worker_thread

local LOCK_EXPTIME = 30         -- lua-resty-lock's defaults
local LOCK_TIMEOUT = 5
local LOCK_STEP = 0.001
local LOCK_MAX_STEP = 0.5

local STATUS = {
    WAIT = 0, MISS = 0,
    DENIED = ngx.HTTP_UNAUTHORIZED, NEGATIVE = ngx.HTTP_UNAUTHORIZED,
    UNKNOWN = ngx.HTTP_UNAUTHORIZED, LOCKED = 429,
    BUSY = ngx.HTTP_SERVICE_UNAVAILABLE, ERROR = ngx.HTTP_SERVICE_UNAVAILABLE,
}

local _M = {}

local creds = {}                -- device id -> bcrypt hash
local locations = {}            -- name -> settings, see init()
local key                       -- secret of the digests, per start
local pool                      -- thread pool name
local locks, lockout, stats     -- shared dicts
local md                        -- SHA-256, fetched once per process
local digest_buf = ffi.new("unsigned char[32]")


local function read_credentials(path)
    local f = assert(io.open(path, "r"))
    local n = 0

    for line in f:lines() do
        if not line:find("^%s*#") and line:find("%S") then
            local id, hash = line:match("^(.-):(%$2[aby]%$%d%d%$[./%w]+)")
            if not id then
                error(path .. ": bad line: " .. line)
            end
            creds[id] = hash
            n = n + 1
        end
    end

    f:close()
    return n
end


-- init{credentials = PATH, pool = NAME, locks = DICT, lockout = DICT,
--      stats = DICT, locations = {NAME = {dict = DICT, zone = LABEL,
--      ttl = S, negative_ttl = S, result_header = BOOL,
--      lockout = {failures = N, window = S, duration = S}}}}
function _M.init(conf)
    local f = assert(io.open("/dev/urandom", "rb"))
    key = f:read(32)
    f:close()

    pool = conf.pool
    locks = assert(shared[conf.locks], "no lua_shared_dict " .. conf.locks)
    lockout = assert(shared[conf.lockout], "no lua_shared_dict "
                     .. conf.lockout)
    stats = assert(shared[conf.stats], "no lua_shared_dict " .. conf.stats)

    for name, l in pairs(conf.locations) do
        l.cache = assert(shared[l.dict], "no lua_shared_dict " .. l.dict)
        l.name = name
        locations[name] = l
    end

    ngx.log(ngx.NOTICE, "openresty_auth: ",
            read_credentials(conf.credentials), " devices from ",
            conf.credentials)
end


local function digest(id, token)
    local s = key .. id .. "\0" .. token

    if md == nil then
        md = crypto.EVP_MD_fetch(nil, "SHA256", nil)
    end

    if crypto.EVP_Digest(s, #s, digest_buf, nil, md, nil) ~= 1 then
        return nil
    end

    return ffi.string(digest_buf, 32)
end


local function count(metric, zone, label, value, n)
    stats:incr(metric .. "|" .. zone .. "|" .. label .. "|" .. value,
               n or 1, 0)
end


-- what the shared dicts already know about (id, digest), or nil
local function cached(l, id, d)
    if l.cache:get(id) == d then
        return "HIT"
    end

    if l.cache:get(id .. "\0" .. d) then
        return "NEGATIVE"
    end

    if l.lockout and lockout:get("l" .. l.zone .. "\0" .. id) then
        return "LOCKED"
    end

    return nil
end


local function failed(l, id)
    local lo = l.lockout
    local k = l.zone .. "\0" .. id
    local n = lockout:incr("f" .. k, 1, 0, lo.window)

    if n and n >= lo.failures then
        lockout:set("l" .. k, true, lo.duration)
        lockout:delete("f" .. k)
    end
end


-- the lock's owner: bcrypt in the thread pool, then the verdict
local function verify(l, id, token, d)
    local hash = creds[id]
    local ok, match, secs

    count("flights", l.zone, "", "", 1)
    ok, match, secs = run_worker_thread(pool, "openresty_bcrypt", "verify",
                                        token, hash)
    count("flights", l.zone, "", "", -1)

    if not ok then
        ngx.log(ngx.ERR, "openresty_auth: device \"", id, "\": ", match)
        return "BUSY"
    end

    if match == nil then
        ngx.log(ngx.ERR, "openresty_auth: device \"", id,
                "\": crypt_rn failed")
        return "ERROR"
    end

    count("bcrypt_total", l.zone, "outcome", match and "match" or "mismatch")
    count("bcrypt_seconds_total", l.zone, "", "", secs)

    if match then
        l.cache:set(id, d, l.ttl)
        return "MISS"
    end

    l.cache:set(id .. "\0" .. d, true, l.negative_ttl)

    if l.lockout then
        failed(l, id)
    end

    return "DENIED"
end


-- single-flight per device: lua-resty-lock's algorithm, inlined
local function flight(l, id, token, d)
    local lock = l.zone .. "\0" .. id
    local step, waited = LOCK_STEP, 0
    local ok, err, res

    while true do
        ok, err = locks:add(lock, true, LOCK_EXPTIME)

        if ok then
            -- the previous owner may have stored our verdict
            res = cached(l, id, d)
            if not res then
                ok, res = pcall(verify, l, id, token, d)
                if not ok then
                    ngx.log(ngx.ERR, "openresty_auth: ", res)
                    res = "ERROR"
                end
            end
            locks:delete(lock)
            break
        end

        if err ~= "exists" then
            ngx.log(ngx.ERR, "openresty_auth: lock: ", err)
            return "ERROR"
        end

        if waited >= LOCK_TIMEOUT then
            return "BUSY"
        end

        ngx.sleep(step)
        waited = waited + step
        step = math.min(step * 2, LOCK_MAX_STEP)

        res = cached(l, id, d)
        if res then
            break
        end
    end

    if res == "HIT" and waited > 0 then
        return "WAIT"
    end

    return res
end


local function bad(s, max)
    return #s > max or re_find(s, "[^\\x21-\\x7e]", "jo") ~= nil
end


-- access_by_lua: access("NAME") with NAME one of init()'s locations
function _M.access(name)
    local l = locations[name]
    local var = ngx.var
    local id, token = var.http_x_device_id, var.http_x_device_token
    local d, res

    if id == nil or id == "" or token == nil or token == "" then
        return ngx.exit(ngx.HTTP_UNAUTHORIZED)
    end

    if bad(id, 128) or bad(token, 72) then
        return ngx.exit(ngx.HTTP_BAD_REQUEST)
    end

    d = digest(id, token)
    if d == nil then
        return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
    end

    res = cached(l, id, d)

    if res == nil then
        res = creds[id] and flight(l, id, token, d) or "UNKNOWN"
    end

    if l.result_header then
        ngx.header["X-Auth-Result"] = res
    end

    if res == "HIT" then
        return
    end

    count("requests_total", l.zone, "result", res:lower())

    if res == "BUSY" then
        ngx.header["Retry-After"] = "1"
    end

    if STATUS[res] ~= 0 then
        return ngx.exit(STATUS[res])
    end
end


-- content_by_lua: the counters, one "name{zone="Z"[,label="v"]} n" a line
function _M.status()
    local keys = stats:get_keys(0)
    local out = {}

    table.sort(keys)

    for _, k in ipairs(keys) do
        local metric, zone, label, value = k:match("^(.-)|(.-)|(.-)|(.*)$")
        out[#out + 1] = string.format("openresty_auth_%s{zone=\"%s\"%s} %s\n",
            metric, zone,
            label ~= "" and string.format(",%s=\"%s\"", label, value) or "",
            tostring(stats:get(k)))
    end

    ngx.header["Content-Type"] = "text/plain"
    ngx.print(out)
end


return _M

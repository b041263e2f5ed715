-- bcrypt for the benchmark's OpenResty peer (bench/lua/openresty_auth.lua).
--
-- Runs in an nginx thread pool through ngx.run_worker_thread(): each
-- thread has a Lua VM of its own that loads this module, so the module
-- only uses what such a VM has (LuaJIT FFI, no ngx.shared).  crypt_rn is
-- libxcrypt's reentrant crypt, the same bcrypt as iot_auth's.

local ffi = require("ffi")

ffi.cdef[[
char *crypt_rn(const char *phrase, const char *setting, void *data,
               int size);

typedef struct { long tv_sec; long tv_nsec; } openresty_bcrypt_ts_t;
int clock_gettime(int clk, openresty_bcrypt_ts_t *ts);
]]

local CRYPT_DATA_SIZE = 32768           -- sizeof(struct crypt_data)
local CLOCK_MONOTONIC = 1

local libcrypt = ffi.load("libcrypt.so.1")

-- one crypt_data per VM: a VM serves one task at a time
local data = ffi.new("char[?]", CRYPT_DATA_SIZE)
local ts = ffi.new("openresty_bcrypt_ts_t")

local function now()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local _M = {}

-- verify(token, hash) -> match (boolean, nil when crypt_rn fails),
-- seconds the bcrypt took
function _M.verify(token, hash)
    local t0 = now()
    local out = libcrypt.crypt_rn(token, hash, data, CRYPT_DATA_SIZE)
    local secs = now() - t0

    if out == nil then
        return nil, secs
    end

    return ffi.string(out) == hash, secs
end

return _M

-- wrk script for every scenario of bench/run.
--
-- Settings come from the environment, read when the script is loaded (in
-- wrk's main Lua state and in each thread's), so that response() and
-- delay() are defined only when a scenario needs them: wrk skips the
-- header parsing and the Lua call per response when response() is absent.
--
--   BENCH_DEVICES  file, one device a line: its request headers, separated
--                  by tabs ("X-Device-Id: d1<TAB>X-Device-Token: s1")
--   BENCH_PATH     request path (default /)
--   BENCH_ORDER    rr    each thread walks the whole list round-robin,
--                        from its own offset (default)
--                  once  each line is sent exactly once, split between
--                        the threads; a thread that has its answers
--                        creates BENCH_MARKER.<thread> and stops
--   BENCH_DELAY    ms each connection waits between an answer and its
--                  next request (default 0: closed loop at full speed)
--   BENCH_SAMPLES  file: one line per answer, "sent_ms latency_us status
--                  result" (sent_ms relative to BENCH_EPOCH, result is
--                  the X-Auth-Result header or "-"); needs the server to
--                  echo the X-Bench-T request header
--   BENCH_EPOCH    µs since the Unix epoch that sent_ms counts from
--   BENCH_SUMMARY  file: "key value" lines written by done()
--   BENCH_MARKER   path prefix of the per-thread done files (once mode)
--   BENCH_THREADS  wrk's -t (once mode splits the list by it)

local ffi = require("ffi")

ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clk, bench_timespec_t *ts);
]]

local ts = ffi.new("bench_timespec_t")

-- CLOCK_REALTIME in µs, the same clock as the driver's `date +%s%6N`
local function now_us()
    ffi.C.clock_gettime(0, ts)
    return tonumber(ts.tv_sec) * 1000000
           + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local devices_file = os.getenv("BENCH_DEVICES")
local path = os.getenv("BENCH_PATH") or "/"
local order = os.getenv("BENCH_ORDER") or "rr"
local delay_ms = tonumber(os.getenv("BENCH_DELAY") or "0")
local samples_file = os.getenv("BENCH_SAMPLES")
local summary_file = os.getenv("BENCH_SUMMARY")
local marker = os.getenv("BENCH_MARKER")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local epoch = tonumber(os.getenv("BENCH_EPOCH") or "0")

local timed = samples_file ~= nil or order == "once"

local function load_devices(file)
    local list = {}
    local f = assert(io.open(file, "r"))
    for line in f:lines() do
        if line ~= "" then
            local h = {}
            for field in line:gmatch("[^\t]+") do
                local name, value = field:match("^([^:]+):%s*(.*)$")
                h[name] = value
            end
            list[#list + 1] = h
        end
    end
    f:close()
    assert(#list > 0, "no devices in " .. file)
    return list
end

-- main state: hand each thread its number

local threads = {}

function setup(thread)
    threads[#threads + 1] = thread
    thread:set("tid", #threads)
end

-- thread state

local devices, prebuilt, queue
local next_i, quota, answered = 0, 0, 0

-- wrk calls request() once on its first thread's state before the run, to
-- check that the request parses, and throws the result away: in once mode
-- that call must not use up a line
local discard_first = false

-- globals, read back by done() through thread:get()
s_sent, s_lat, s_status, s_result = {}, {}, {}, {}
first_sent, last_answer = 0, 0
status_counts = {}

function init(args)
    devices = load_devices(devices_file)

    if order == "once" then
        queue = {}
        for i = tid, #devices, nthreads do
            queue[#queue + 1] = devices[i]
        end
        quota = #queue
        discard_first = tid == 1
        if quota == 0 then
            wrk.thread:stop()
        end
        return
    end

    -- round-robin: start each thread at its own offset
    next_i = math.floor((tid - 1) * #devices / nthreads)

    if not timed then
        prebuilt = {}
        for i, h in ipairs(devices) do
            prebuilt[i] = wrk.format("GET", path, h)
        end
    end
end

local function with_stamp(h)
    local t = now_us()
    if first_sent == 0 then
        first_sent = t
    end
    local copy = {}
    for k, v in pairs(h) do
        copy[k] = v
    end
    copy["X-Bench-T"] = tostring(t)
    return wrk.format("GET", path, copy)
end

function request()
    if order == "once" then
        if discard_first then
            discard_first = false
            return wrk.format("GET", path, queue[1] or devices[1])
        end
        next_i = next_i + 1
        if next_i <= quota then
            return with_stamp(queue[next_i])
        end
        -- filler while the other answers of this thread come in: not
        -- stamped, so response() does not count it
        return wrk.format("GET", path, queue[1] or devices[1])
    end

    next_i = next_i % #devices + 1

    if prebuilt then
        return prebuilt[next_i]
    end

    return with_stamp(devices[next_i])
end

if delay_ms > 0 or order == "once" then
    function delay()
        if order == "once" and next_i >= quota then
            return 1000
        end
        return delay_ms
    end
end

if timed then
    function response(status, headers, body)
        local stamp = headers["X-Bench-T"]
        if stamp == nil then
            return
        end

        local t = now_us()
        local sent = tonumber(stamp)
        local n = #s_sent + 1

        s_sent[n] = (sent - epoch) / 1000
        s_lat[n] = t - sent
        s_status[n] = status
        s_result[n] = headers["X-Auth-Result"] or "-"
        status_counts[status] = (status_counts[status] or 0) + 1
        last_answer = t

        if order == "once" then
            answered = answered + 1
            if answered == quota then
                local f = io.open(marker .. "." .. tid, "w")
                if f then
                    f:close()
                end
                wrk.thread:stop()
            end
        end
    end
end

-- main state, after the run

function done(summary, latency, requests)
    if summary_file then
        local f = assert(io.open(summary_file, "w"))
        local e = summary.errors
        f:write(string.format("requests %d\n", summary.requests))
        f:write(string.format("duration_us %d\n", summary.duration))
        f:write(string.format("rps %.1f\n",
                              summary.requests * 1e6 / summary.duration))
        f:write(string.format("errors_connect %d\nerrors_read %d\n"
                              .. "errors_write %d\nerrors_status %d\n"
                              .. "errors_timeout %d\n",
                              e.connect, e.read, e.write, e.status,
                              e.timeout))
        f:write(string.format("lat_mean_us %.1f\nlat_max_us %d\n",
                              latency.mean, latency.max))
        for _, p in ipairs({50, 90, 99, 99.9}) do
            f:write(string.format("p%s_us %d\n", tostring(p),
                                  latency:percentile(p)))
        end

        if timed then
            local first, last, counts = 0, 0, {}
            for _, t in ipairs(threads) do
                local fs, la = t:get("first_sent"), t:get("last_answer")
                if fs > 0 and (first == 0 or fs < first) then
                    first = fs
                end
                if la > last then
                    last = la
                end
                for k, v in pairs(t:get("status_counts")) do
                    counts[k] = (counts[k] or 0) + v
                end
            end
            f:write(string.format("first_sent_us %d\nlast_answer_us %d\n",
                                  first, last))
            for k, v in pairs(counts) do
                f:write(string.format("status_%d %d\n", k, v))
            end
        end
        f:close()
    end

    if samples_file then
        local f = assert(io.open(samples_file, "w"))
        for _, t in ipairs(threads) do
            local sent, lat = t:get("s_sent"), t:get("s_lat")
            local st, res = t:get("s_status"), t:get("s_result")
            local buf = {}
            for i = 1, #sent do
                buf[#buf + 1] = string.format("%.3f %d %d %s\n", sent[i],
                                              lat[i], st[i], res[i])
                if #buf == 1000 then
                    f:write(table.concat(buf))
                    buf = {}
                end
            end
            f:write(table.concat(buf))
        end
        f:close()
    end
end

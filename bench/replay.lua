-- wrk script: replay pre-signed requests, each exactly once, then stop.
-- Usage: wrk -t T -c C -d LIMIT -s bench/replay.lua https://a.test/ -- DIR
-- DIR holds requests-<thread>.bin per wrk thread: raw HTTP/1.1 requests separated by NUL.
-- A connection whose thread has handed out its whole slice asks nginx's own probe path every
-- 20 ms (answers counted apart, as "probes") until the thread has had no POST answer for 1 s.
-- wrk regenerates a request when a TLS write must wait for the handshake, so a few requests
-- may be skipped ("skipped"); the rate is counted over the POST answers only, from the first
-- request to the last POST answer.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now()
   ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

-- wrk's main thread sleeps for the whole -d duration even when every thread has stopped: a
-- finished thread leaves a marker file, and the driver then sends wrk SIGINT.
local function finish()
   local f = io.open(dir .. "/done-" .. id, "w")
   if f then
      f:close()
   end
   wrk.thread:stop()
end

function init(args)
   dir = args[1]
   local f = assert(io.open(args[1] .. "/requests-" .. id .. ".bin", "rb"))
   local data = f:read("*a")
   f:close()
   reqs = {}
   local pos = 1
   while true do
      local s = string.find(data, "\0", pos, true)
      if not s then break end
      reqs[#reqs + 1] = string.sub(data, pos, s - 1)
      pos = s + 1
   end
   total = #reqs
   sent = 0
   accepted = 0
   errors = 0
   probes = 0
   probe = wrk.format("GET", "/__e2e_route")
   first = 0
   last = 0
end

function delay()
   if sent >= total then
      return 20
   end
   return 0
end

function request()
   sent = sent + 1
   if sent == 1 then
      first = now()
   end
   if sent <= total then
      return reqs[sent]
   end
   return probe
end

function response(status, headers, body)
   local t = now()
   if status == 200 then
      probes = probes + 1
      if accepted + errors >= total or (sent > total and t - last > 1.0) then
         finish()
      end
      return
   end
   if status == 202 then
      accepted = accepted + 1
   else
      errors = errors + 1
   end
   last = t
   if accepted + errors >= total then
      finish()
   end
end

function done(summary, latency, requests)
   local a, e, p, n = 0, 0, 0, 0
   local t0, t1 = math.huge, 0
   for _, t in ipairs(threads) do
      a = a + t:get("accepted")
      e = e + t:get("errors")
      p = p + t:get("probes")
      n = n + t:get("total")
      t0 = math.min(t0, t:get("first"))
      t1 = math.max(t1, t:get("last"))
   end
   io.write(string.format(
      'BENCH {"accepted":%d,"errors":%d,"probes":%d,"skipped":%d,"seconds":%f,' ..
      '"duration_us":%d,"responses":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"timeouts":%d,' ..
      '"connect_errors":%d,"read_errors":%d}\n',
      a, e, p, n - a - e, t1 - t0, summary.duration, summary.requests,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      summary.errors.timeout, summary.errors.connect, summary.errors.read))
end

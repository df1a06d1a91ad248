-- wrk script for `make bench` (bench/run.py): rotates through the requests listed in a
-- data file, counts 2xx and other answers per thread, and prints one JSON line at the end.
--
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/rotate.lua http://127.0.0.1:PORT -- DATA.lua
--
-- DATA.lua returns {method = "GET", headers = {...}, paths = {...}, bodies = {...} | nil};
-- bodies[i], when given, goes with paths[i]. bench/run.py writes it from the seeded data.

-- Globals, not locals: done() reads each thread's copy with thread:get().
ok = 0
not_2xx = 0
requests_list = {}
position = 0

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_index", thread_count)
   table.insert(threads, thread)
end

function init(args)
   local spec = dofile(args[1])
   for i, path in ipairs(spec.paths) do
      local headers = {}
      for name, value in pairs(spec.headers) do
         headers[name] = value
      end
      local body = nil
      if spec.bodies then
         body = spec.bodies[i]
         headers["Content-Type"] = "application/json"
      end
      requests_list[i] = wrk.format(spec.method, path, headers, body)
   end
   -- Each thread starts at its own place in the (already shuffled) list.
   math.randomseed(7919 * (thread_index or 1))
   position = math.random(#requests_list) - 1
end

function request()
   position = position % #requests_list + 1
   return requests_list[position]
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      not_2xx = not_2xx + 1
   end
end

function done(summary, latency, requests)
   local ok_total, bad_total = 0, 0
   for _, thread in ipairs(threads) do
      ok_total = ok_total + thread:get("ok")
      bad_total = bad_total + thread:get("not_2xx")
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "ok": %d, "not_2xx": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
      summary.requests, summary.duration, ok_total, bad_total,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end

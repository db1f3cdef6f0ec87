-- wrk script of the benchmark: every request carries the next bearer token of a pool, read from a
-- file (one token per line) so that no token appears on a command line. An empty file means no
-- Authorization header at all (the /api/public ceiling). Each thread starts at its own offset and
-- walks the pool round-robin, so with N tokens every token is sent once per N requests.
-- Usage: wrk -s tokens.lua URL -- TOKEN_FILE
-- The summary is printed as one JSON line prefixed with "BENCH_RESULT " for the runner to parse.

-- Each thread learns its index, to start at its own place in the pool.
local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
end

local requests_pool = {}
local pool_size = 0
local next_index = 1

function init(args)
   local path = args[1]
   if path == nil then
      error("tokens.lua: pass the token file after --")
   end
   local file = assert(io.open(path, "r"))
   for line in file:lines() do
      if #line > 0 then
         pool_size = pool_size + 1
         -- Pre-formatting keeps the per-request work in wrk to a table lookup.
         requests_pool[pool_size] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. line })
      end
   end
   file:close()
   if pool_size == 0 then
      pool_size = 1
      requests_pool[1] = wrk.format(nil, nil, nil)
   end
   -- Spread the threads over the pool instead of sending the same tokens in lockstep.
   local index = tonumber(thread_index) or 0
   next_index = (math.floor(index * pool_size / 7) % pool_size) + 1
end

function request()
   local req = requests_pool[next_index]
   next_index = next_index + 1
   if next_index > pool_size then
      next_index = 1
   end
   return req
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"status_errors":%d,' ..
      '"latency_p50_us":%d,"latency_p90_us":%d,"latency_p99_us":%d,"latency_max_us":%d,"latency_mean_us":%.1f}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

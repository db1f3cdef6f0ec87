-- wrk script of the DPoP scenario: every request carries the one DPoP-bound access token
-- (`Authorization: DPoP <token>`) and a proof never sent before (`DPoP: <proof>`). The API
-- accepts each proof once, so the proofs file (one per line, made by the runner right before
-- this run) is split between the threads: thread t of N takes lines t+1, t+1+N, ... and walks
-- them once. A thread that runs out sends no proof (the API answers 401) and counts it, and the
-- summary reports the count so that the runner can refuse the run: a row with reused or missing
-- proofs would not measure DPoP.
-- Usage: wrk -s dpop.lua URL -- TOKEN_FILE PROOF_FILE THREADS
-- The summary is printed as one JSON line prefixed with "BENCH_RESULT " for the runner to parse.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local proofs = {}
local proof_count = 0
local next_index = 1
local headers = {}
exhausted = 0

function init(args)
   local token_path, proof_path, total = args[1], args[2], tonumber(args[3])
   if token_path == nil or proof_path == nil or total == nil then
      error("dpop.lua: pass TOKEN_FILE PROOF_FILE THREADS after --")
   end
   local file = assert(io.open(token_path, "r"))
   local token = file:read("*l")
   file:close()
   if token == nil or #token == 0 then
      error("dpop.lua: the token file is empty")
   end
   headers["Authorization"] = "DPoP " .. token
   local index = tonumber(thread_index) or 0
   local line_number = 0
   file = assert(io.open(proof_path, "r"))
   for line in file:lines() do
      if line_number % total == index and #line > 0 then
         proof_count = proof_count + 1
         proofs[proof_count] = line
      end
      line_number = line_number + 1
   end
   file:close()
end

function request()
   local proof = proofs[next_index]
   if proof == nil then
      exhausted = exhausted + 1
      headers["DPoP"] = nil
   else
      -- Dropped once sent: a proof is never sent twice, and its memory goes back.
      proofs[next_index] = nil
      next_index = next_index + 1
      headers["DPoP"] = proof
   end
   return wrk.format(nil, nil, headers)
end

function done(summary, latency, requests)
   local e = summary.errors
   local out_of_proofs = 0
   for _, thread in ipairs(threads) do
      out_of_proofs = out_of_proofs + (tonumber(thread:get("exhausted")) or 0)
   end
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"status_errors":%d,' ..
      '"latency_p50_us":%d,"latency_p90_us":%d,"latency_p99_us":%d,"latency_max_us":%d,"latency_mean_us":%.1f,' ..
      '"proofs_exhausted":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      out_of_proofs))
end

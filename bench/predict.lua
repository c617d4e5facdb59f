-- predict.lua - the wrk script of the load benchmarks (load.sh, cluster.sh): POSTs the JPEG
-- named by $FER_BENCH_PHOTO raw to the URL, and prints one machine-readable line at the end:
--   RESULT <requests> <seconds> <p50 ms> <p99 ms> <errors>
local path = assert(os.getenv("FER_BENCH_PHOTO"), "predict.lua: set FER_BENCH_PHOTO")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/jpeg"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.2f %.2f %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout + e.status))
end

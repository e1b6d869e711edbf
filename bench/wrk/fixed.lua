-- One fixed request for every connection, for the steady-state runs (host authorize, floor,
-- grant). The request is static (no request()), so wrk formats it once: the load generator
-- costs the same whichever target it drives.
--   BENCH_METHOD (GET), BENCH_BODY (none), BENCH_OK_STATUS (200), BENCH_OK_NEEDLE (none),
--   BENCH_SAMPLE_PATTERN: a Lua pattern with one capture kept from the first ok body (an id).
-- Headers (key, content type) come from wrk -H.
local C = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.body = os.getenv("BENCH_BODY")
local is_ok = C.make_checker(tonumber(os.getenv("BENCH_OK_STATUS") or "200"), os.getenv("BENCH_OK_NEEDLE"))
local sample_pattern = os.getenv("BENCH_SAMPLE_PATTERN")

setup = C.setup
ok_count, bad_count, sample = 0, 0, ""

function response(status, headers, body)
  if is_ok(status, headers, body) then
    ok_count = ok_count + 1
    if sample == "" and sample_pattern then sample = body:match(sample_pattern) or "" end
  else
    bad_count = bad_count + 1
  end
end

function done(summary, latency, requests)
  C.report(summary, latency, false)
end

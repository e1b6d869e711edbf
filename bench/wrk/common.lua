-- Shared by the bench's wrk scripts (loaded with dofile; BENCH_LUA_DIR names this folder).
-- Each thread counts its own answers; done() (in wrk's main Lua state) collects them with
-- thread:get and prints ONE machine-readable line that bench/run.sh parses:
--   BENCH_RESULT requests=… rps=… p50_us=… p90_us=… p99_us=… max_us=… ok=… bad=… …
-- wrk's own summary counts only status >= 400 as errors; a 302 from a refused flow or a
-- GitHub-style "200 with an error" would pass as success, hence the explicit ok check.
local M = {}

-- LuaJIT's FFI gives a monotonic clock (for rates over the time requests really ran, not
-- wrk's -d) and kill(2) (to end wrk early once a replay has sent every line).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
  int kill(int pid, int sig);
  int getpid(void);
]]
local ts = ffi.new("bench_timespec")
function M.now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

-- Ends the whole wrk run as if -d had elapsed: wrk's main thread sleeps in sleep(), and a
-- signal sent to the process goes to the main thread first, which then prints the summary.
function M.interrupt_wrk()
  ffi.C.kill(ffi.C.getpid(), 2) -- SIGINT
end

M.threads = {}
-- setup() runs in the main state once per thread, just before that thread's init().
function M.setup(thread)
  table.insert(M.threads, thread)
  thread:set("thread_index", #M.threads)
end

-- ok: the answer the target is meant to give. want_status and an optional plain-text needle
-- looked for in the body or the Location header.
function M.make_checker(want_status, needle)
  return function(status, headers, body)
    if status ~= want_status then return false end
    if needle == nil or needle == "" then return true end
    if body and body:find(needle, 1, true) then return true end
    local location = headers["Location"] or headers["location"]
    return location ~= nil and location:find(needle, 1, true) ~= nil
  end
end

local function sum(name)
  local total = 0
  for _, t in ipairs(M.threads) do total = total + (tonumber(t:get(name)) or 0) end
  return total
end

-- span_rate: rate over the first request to the last answer of every thread (replays);
-- otherwise requests / wrk's duration.
function M.report(summary, latency, span_rate)
  local rps = summary.requests / (summary.duration / 1e6)
  local first, last
  for _, t in ipairs(M.threads) do
    local f, l = t:get("first_us"), t:get("last_us")
    if f and (first == nil or f < first) then first = f end
    if l and (last == nil or l > last) then last = l end
  end
  if span_rate and first and last and last > first then rps = sum("ok_count") / ((last - first) / 1e6) end
  local sample = ""
  for _, t in ipairs(M.threads) do
    local s = t:get("sample")
    if s and s ~= "" then sample = s break end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f " ..
    "ok=%d bad=%d sent=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d sample=%s\n",
    summary.requests, summary.duration, rps,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    sum("ok_count"), sum("bad_count"), sum("sent_count"),
    e.connect, e.read, e.write, e.status, e.timeout, sample == "" and "-" or sample))
end

return M

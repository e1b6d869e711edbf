-- Replays a file of one-shot requests (prepared OAuth callbacks, or authorization codes for
-- the provider's token endpoint): thread k of T takes lines k, k+T, k+2T, … and sends each
-- exactly once. Before each request wrk asks delay(): while lines remain it promises one to
-- the connection and answers 0; once none remain it parks the connection for an hour, so no
-- filler request pollutes the latencies. When all of a thread's connections are parked, every
-- line has its answer (or was lost to a socket error: nothing left to wait for). When every
-- thread is finished, wrk is interrupted; the rate is over the time requests really ran.
--   BENCH_REPLAY_FILE     the lines
--   BENCH_REPLAY_METHOD   GET: a line is a path; POST: a line is the body sent to BENCH_REPLAY_PATH
--   BENCH_REPLAY_THREADS  wrk's -t and BENCH_REPLAY_CONNECTIONS its -c (a thread cannot learn them)
--   BENCH_REPLAY_MARKERS  a folder for "thread k is done" files
--   BENCH_OK_STATUS / BENCH_OK_NEEDLE as in fixed.lua
local C = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local method = os.getenv("BENCH_REPLAY_METHOD") or "GET"
local post_path = os.getenv("BENCH_REPLAY_PATH") or "/"
local thread_count = tonumber(os.getenv("BENCH_REPLAY_THREADS"))
local thread_connections = math.floor(tonumber(os.getenv("BENCH_REPLAY_CONNECTIONS")) / thread_count)
local markers = os.getenv("BENCH_REPLAY_MARKERS")
local is_ok = C.make_checker(tonumber(os.getenv("BENCH_OK_STATUS") or "200"), os.getenv("BENCH_OK_NEEDLE"))

setup = C.setup
ok_count, bad_count, sent_count, sample = 0, 0, 0, ""
local lines, next_line, promised, parked, finished = {}, 1, 0, 0, false

function init(args)
  local i = 0
  for line in io.lines(os.getenv("BENCH_REPLAY_FILE")) do
    if (i % thread_count) + 1 == thread_index then lines[#lines + 1] = line end
    i = i + 1
  end
end

local function marker(k) return markers .. "/thread-" .. k end

local function finish_thread()
  if finished then return end
  finished = true
  io.open(marker(thread_index), "w"):close()
  -- Each thread writes its marker before looking, so the last one to finish sees them all.
  for k = 1, thread_count do
    local f = io.open(marker(k), "r")
    if not f then return end
    f:close()
  end
  C.interrupt_wrk()
end

function delay()
  if promised < #lines then
    promised = promised + 1
    return 0
  end
  parked = parked + 1
  if parked >= thread_connections then finish_thread() end
  return 3600 * 1000
end

local function format(line)
  if method == "GET" then return wrk.format("GET", line) end
  return wrk.format("POST", post_path, nil, line)
end

-- wrk calls the first thread's request() once before the run, only to check what it
-- returns (script_verify_request): that call must not use up a line.
local checked = false

function request()
  if thread_index == 1 and not checked then
    checked = true
    return format(lines[1])
  end
  -- Only after a socket error can a connection come back without a promise and find
  -- nothing left; an empty request leaves it idle (over TLS: one more write error).
  if next_line > #lines then return "" end
  local line = lines[next_line]
  next_line = next_line + 1
  sent_count = sent_count + 1
  if first_us == nil then first_us = C.now_us() end
  return format(line)
end

function response(status, headers, body)
  last_us = C.now_us()
  if is_ok(status, headers, body) then ok_count = ok_count + 1 else bad_count = bad_count + 1 end
end

function done(summary, latency, requests)
  C.report(summary, latency, true)
end

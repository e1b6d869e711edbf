-- fixed.lua's request, with wrk's threads spread over several replicas: BENCH_TARGETS holds
-- their "host:port" addresses, and thread n connects to address n (round robin). The URL
-- given to wrk names the first replica; only its path, headers and body are used.
dofile(os.getenv("BENCH_LUA_DIR") .. "/fixed.lua")

local targets = {}
for target in (os.getenv("BENCH_TARGETS") or ""):gmatch("%S+") do
  local host, port = target:match("^(.*):(%d+)$")
  targets[#targets + 1] = wrk.lookup(host, port)[1]
end
assert(#targets > 0, "BENCH_TARGETS names no replica")

local fixed_setup = setup
local assigned = 0
function setup(thread)
  fixed_setup(thread)
  assigned = assigned % #targets + 1
  thread.addr = targets[assigned]
end

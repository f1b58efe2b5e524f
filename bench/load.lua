-- wrk script for every HTTP row: each request goes to the next order id of its
-- thread, optionally paced to a fixed rate; done() prints one JSON line with
-- the figures the suite reads.
--
-- Arguments after `--`: method path body first walk rate threads
--   path     the request path, with {id} where the order id goes
--   first    the first order id
--   walk     1: thread n sends first+n, first+n+threads, ... (disjoint ids);
--            0: every request goes to `first`
--   rate     requests per second for the whole run; 0 sends as fast as answered
--   threads  the number of wrk threads, as given to wrk -t

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]])
local clock = ffi.new("bench_timespec")

local threads = {}
local created = 0

function setup(thread)
  thread:set("index", created)
  created = created + 1
  table.insert(threads, thread)
end

local function now_ms()
  ffi.C.clock_gettime(1, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

function init(args)
  method, path, body = args[1], args[2], args[3]
  local first, walk = tonumber(args[4]), args[5] == "1"
  local rate, threads = tonumber(args[6]), tonumber(args[7])
  next_id = walk and first + index or first
  step = walk and threads or 0
  interval = rate > 0 and 1000 * threads / rate or 0
  slots, paced_from = 0, nil
  not_200 = 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  local id = next_id
  next_id = next_id + step
  local target = string.gsub(path, "{id}", tostring(id))
  return wrk.format(method, target, headers, body ~= "" and body or nil)
end

function delay()
  if interval == 0 then
    return 0
  end
  local now = now_ms()
  paced_from = paced_from or now
  local due = paced_from + slots * interval
  slots = slots + 1
  return math.max(0, due - now)
end

function response(status)
  if status ~= 200 then
    not_200 = not_200 + 1
  end
end

function done(summary, latency, requests)
  local not_200_total, walked = 0, 0
  for _, thread in ipairs(threads) do
    not_200_total = not_200_total + thread:get("not_200")
    walked = math.max(walked, thread:get("next_id"))
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "not_2xx": %d, "not_200": %d, '
      .. '"socket_errors": %d, "timeouts": %d, "next_id": %d}\n',
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.status,
    not_200_total, e.connect + e.read + e.write, e.timeout, walked
  ))
end

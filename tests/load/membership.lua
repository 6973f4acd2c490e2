-- wrk script for the membership API: every request asks for a random user of the synthetic
-- app written by `sieve synth` (users u0 .. u<USERS-1>).
local users = tonumber(os.getenv("USERS") or "10000000")
local token = os.getenv("TOKEN") or ""
local app = os.getenv("APP") or "bench"

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed)
end

request = function()
  local path = string.format("/api/v1/apps/%s/users/u%d/tags", app, math.random(0, users - 1))
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
  io.write(string.format("requests %d errors(status) %d p50 %.2fms p99 %.2fms p99.9 %.2fms max %.2fms\n",
    summary.requests, summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
end

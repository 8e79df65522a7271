-- wrk script: POST /updates for random devices among the seeded ones.
-- DELAY_MS (env) throttles each connection to measure latency below the maximum rate.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local devices = tonumber(os.getenv("DEVICES") or "1000000")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(os.time() + (seed or 0))
end

local platforms = { "android", "ios" }

function request()
  local i = math.random(0, devices - 1)
  local body = string.format(
    '{"app_id":"com.bench.app","device_id":"00000000-0000-4000-8000-%012d","platform":"%s",' ..
    '"version_name":"builtin","version_build":"1.0.0","version_code":"1","version_os":"14",' ..
    '"plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"custom_id":"","defaultChannel":""}',
    i, platforms[(i % 2) + 1])
  return wrk.format(nil, "/updates", nil, body)
end

function delay()
  return delay_ms
end

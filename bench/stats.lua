-- wrk script: `POST /stats` in batches of BATCH (env, default 10) events, each
-- batch from one random seeded device on builtin, as the plugin sends them
-- (an app going to the background and back, a download's progress).
local batch = tonumber(os.getenv("BATCH") or "10")
local devices = tonumber(os.getenv("DEVICES") or "1000000")
local actions = { "app_moved_to_background", "app_moved_to_foreground", "download_10", "download_20", "ping" }

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(os.time() + (seed or 0))
end

function request()
  local i = math.random(0, devices - 1)
  local events = {}
  for k = 1, batch do
    events[k] = string.format(
      '{"app_id":"com.bench.app","device_id":"00000000-0000-4000-8000-%012d","platform":"android",' ..
      '"version_name":"builtin","version_build":"1.0.0","version_code":"1","version_os":"14",' ..
      '"plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"action":"%s"}',
      i, actions[(k % #actions) + 1])
  end
  return wrk.format(nil, "/stats", nil, "[" .. table.concat(events, ",") .. "]")
end

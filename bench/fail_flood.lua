-- wrk script: `update_fail` stats (rollback reports) from random device ids, in
-- plugin-sized batches of 200, for a bundle the bench seed serves.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(os.time() + (seed or 0))
end

function request()
  local events = {}
  for i = 1, 200 do
    events[i] = string.format(
      '{"app_id":"com.bench.app","device_id":"%04x%04x-%04x-4%03x-8%03x-%06x%06x","platform":"android",' ..
      '"version_name":"1.0.99","version_build":"1.0.0","plugin_version":"8.51.14","is_emulator":false,' ..
      '"is_prod":true,"action":"update_fail"}',
      math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xfff),
      math.random(0, 0xfff), math.random(0, 0xffffff), math.random(0, 0xffffff))
  end
  return wrk.format(nil, "/stats", nil, "[" .. table.concat(events, ",") .. "]")
end

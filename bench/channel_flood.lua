-- wrk script: old plugins (< 7.34) choosing the self-assignable channel `beta`
-- for random device ids, as an unauthenticated client can.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(os.time() + (seed or 0))
end

function request()
  local body = string.format(
    '{"app_id":"com.bench.app","device_id":"%04x%04x-%04x-4%03x-8%03x-%06x%06x","platform":"android",' ..
    '"version_name":"builtin","version_build":"1.0.0","plugin_version":"6.25.8","is_emulator":false,' ..
    '"is_prod":true,"channel":"beta"}',
    math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xfff),
    math.random(0, 0xfff), math.random(0, 0xffffff), math.random(0, 0xffffff))
  return wrk.format(nil, "/channel_self", nil, body)
end

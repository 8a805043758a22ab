-- wrk script of scripts/bench, driven by environment variables:
--   BENCH_MODE  get   : GET BENCH_PATH, with If-None-Match: BENCH_INM, Accept-Encoding:
--                       BENCH_AE and Range: BENCH_RANGE when set (one fixed request)
--               delta : GET BENCH_PATH with If-None-Match: "BENCH_EPOCH.N", N uniform in
--                       [BENCH_LO, BENCH_HI] (a consumer somewhere behind the head)
--               put   : PUT BENCH_PATH/<unique id> with a JSON item (one producer per connection)
--               batch : POST BENCH_PATH with BENCH_BATCH items of unique ids (an atomic batch)
-- At the end it prints one line: RESULT requests=… rps=… p50_us=… p99_us=… non2xx3xx=… errors=…
local mode = os.getenv("BENCH_MODE") or "get"
-- The request path: BENCH_PATH, else the one in wrk's URL.
local path = os.getenv("BENCH_PATH") or wrk.path
local counter = 0
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))

local function item(id)
  return '{"id":"' .. id .. '","title":"Benchmark item ' .. id ..
    '","link":"https://example.org/items/' .. id ..
    '","summary":"A summary of about two hundred bytes, as a typical feed entry carries: ' ..
    'what changed, for whom, and where to read more about it on the site.",' ..
    '"author":"Benchmark","categories":["bench"]}'
end

if mode == "get" then
  wrk.method = "GET"
  local inm = os.getenv("BENCH_INM")
  if inm and inm ~= "" then
    wrk.headers["If-None-Match"] = inm
  end
  local ae = os.getenv("BENCH_AE")
  if ae and ae ~= "" then
    wrk.headers["Accept-Encoding"] = ae
  end
  local range = os.getenv("BENCH_RANGE")
  if range and range ~= "" then
    wrk.headers["Range"] = range
  end
elseif mode == "delta" then
  local epoch = os.getenv("BENCH_EPOCH")
  local lo = tonumber(os.getenv("BENCH_LO"))
  local hi = tonumber(os.getenv("BENCH_HI"))
  math.randomseed(os.time())
  request = function()
    local n = math.random(lo, hi)
    return wrk.format("GET", path, { ["If-None-Match"] = '"' .. epoch .. "." .. n .. '"' })
  end
elseif mode == "put" then
  local headers = { ["Content-Type"] = "application/json" }
  request = function()
    counter = counter + 1
    local id = prefix .. "-" .. counter
    return wrk.format("PUT", path .. "/" .. id, headers, item(id))
  end
elseif mode == "batch" then
  local size = tonumber(os.getenv("BENCH_BATCH") or "1000")
  local headers = { ["Content-Type"] = "application/json" }
  request = function()
    local parts = {}
    for i = 1, size do
      counter = counter + 1
      parts[i] = item(prefix .. "-" .. counter)
    end
    return wrk.format("POST", path, headers, "[" .. table.concat(parts, ",") .. "]")
  end
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_us=%d p99_us=%d non2xx3xx=%d errors=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

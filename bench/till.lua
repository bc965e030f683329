-- wrk's till: every request a new purchase (a transaction id of its own) or a balance read of
-- a member drawn from a file of member ids; or a floor's bare route, gRPC hops, or purchase and
-- balance read across the floor's relays (bench.floor).
--   wrk -t1 -c16 -d20s -s bench/till.lua URL -- <mode> <ids file> <token> <tag>
-- mode: purchase, balance, relayed-purchase, relayed-balance, ping, hop1 or hop2
local mode, token, tag
local ids = {}
local counter = 0
local categories = {"dairy", "bakery", "produce", "household"}

function init(args)
  mode, token, tag = args[1], args[3], args[4]
  for line in io.lines(args[2]) do ids[#ids + 1] = line end
  math.randomseed(os.time())
end

local function headers()
  local h = {["Content-Type"] = "application/json"}
  if token ~= "" then h["Authorization"] = "Bearer " .. token end
  return h
end

function request()
  local member = ids[math.random(#ids)]
  local prefix = string.sub(mode, 1, 8) == "relayed-" and "/relayed" or ""
  if mode == "purchase" or mode == "relayed-purchase" then
    counter = counter + 1
    local items, amount = {}, 0
    for i = 1, math.random(1, 5) do
      local quantity, price = math.random(1, 3), math.random(1, 39) * 10000
      amount = amount + quantity * price
      items[i] = string.format(
        '{"sku":"SKU-%d","category":"%s","quantity":%d,"unit_price":"%d"}',
        math.random(1, 4999), categories[math.random(1, 4)], quantity, price)
    end
    local body = string.format(
      '{"transaction_id":"W-%s-%d","member_id":"%s","amount":"%d","currency":"IRR","items":[%s]}',
      tag, counter, member, amount, table.concat(items, ","))
    return wrk.format("POST", prefix .. "/v1/purchases", headers(), body)
  elseif mode == "balance" or mode == "relayed-balance" then
    return wrk.format("GET", prefix .. "/v1/members/" .. member .. "/points", headers())
  elseif mode == "hop1" or mode == "hop2" then
    return wrk.format("GET", "/hops/" .. string.sub(mode, 4), headers())
  end
  return wrk.format("GET", "/ping", headers())
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d failed=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end

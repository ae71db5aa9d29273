-- SPDX-License-Identifier: BSD-2-Clause
-- wrk script: latency percentiles per status code. Run with one
-- connection per thread (-tN -cN): each thread then has one request in
-- flight, so the time from request() to response() is that request's.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } by_status_ts;
int clock_gettime(int clk, by_status_ts *ts);
]]
local ts = ffi.new("by_status_ts")
local sent = 0
local threads = {}

local function now_us()
   ffi.C.clock_gettime(1, ts)
   return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

-- "STATUS BUCKET" -> answers; bucket b holds latencies in
-- [2^(b/32), 2^((b+1)/32)) microseconds: quantiles within 2%.
hist = {}

function setup(thread)
   table.insert(threads, thread)
end

function request()
   sent = now_us()
   return wrk.format()
end

function response(status, headers, body)
   local us = math.max(1, now_us() - sent)
   local key = status .. " " .. math.floor(32 * math.log(us) / math.log(2))
   hist[key] = (hist[key] or 0) + 1
end

function done(summary, latency, requests)
   local per = {}
   for _, t in ipairs(threads) do
      for key, n in pairs(t:get("hist")) do
         local status, b = key:match("(%d+) (%d+)")
         per[status] = per[status] or {}
         per[status][tonumber(b)] = (per[status][tonumber(b)] or 0) + n
      end
   end
   local secs = summary.duration / 1e6
   for status, h in pairs(per) do
      local total, buckets = 0, {}
      for b, n in pairs(h) do
         total = total + n
         table.insert(buckets, b)
      end
      table.sort(buckets)
      local function q(p)
         local seen = 0
         for _, b in ipairs(buckets) do
            seen = seen + h[b]
            if seen >= total * p then
               return 2 ^ ((b + 0.5) / 32) / 1000
            end
         end
      end
      io.write(string.format("status %s: %d answers, %.1f/s, p50 %.2f ms, "
                             .. "p99 %.2f ms, max %.2f ms\n", status, total,
                             total / secs, q(0.5), q(0.99), q(1)))
   end
end

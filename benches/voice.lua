-- wrk script: the benchmark survey (benches/flows/bench.toml) as whole phone calls through
-- Sauti's Africa's Talking Voice gateway, played as Africa's Talking plays them: 7 requests per
-- call, each checked, valid answers.  The voice twin of the harness's loadgen.lua (same
-- conventions, same LOADGEN-WRK line), run through benches/voice-wrk.sh.
--
-- wrk gives no connection identity to request()/response(), so each thread must own exactly ONE
-- connection (wrk -t N -c N): the thread's Lua state then is that caller's call.
--
-- A call, request by request (every one `isActive`, `sessionId`, `direction=Inbound`,
-- `callerNumber`, `destinationNumber`), and what its reply must hold:
--   1. the dial, to the URL given to wrk        -> <GetDigits .. callbackUrl="..?step=lang&n=..">
--   2. dtmfDigits=1..3 (language)               -> <GetDigits, step=consent
--   3. dtmfDigits=1 (yes)                       -> <GetDigits, step=incident_type
--   4. dtmfDigits=1..8                          -> <Record, step=description
--   5. recordingUrl=http://127.0.0.1:9/rec/..   -> <GetDigits, step=people
--      (the <Record> callback: the spoken description; nothing listens there, Sauti keeps the
--      URL as the answer and never fetches it)
--   6. dtmfDigits=0..9999 (typed, `#` ends it)  -> the closing: the `thanks` message played,
--                                                  nothing collected (no <GetDigits>, <Record>,
--                                                  <Redirect>, <Reject>)
--   7. isActive=0 (the call is over: duration, cost), to the URL given to wrk -> 200, empty
-- Requests 2-6 go to the callbackUrl of the reply before (its path and query, `?step=..&n=..`:
-- the turn a request answers), as Africa's Talking does; request 7 goes to the number's voice
-- URL, as Africa's Talking's final notification does. Each of the 7 requests is a hop (wrk's
-- request count and latency cover all of them); a completed session is a call whose 7 replies
-- were all right. Anything else (another status, another step, a missing callbackUrl) is a
-- bad response: the call is dropped and a new one dialled.
--
-- Script args (after --): max calls per thread (0 = unbounded; time bound is wrk -d), then a run
-- tag 0..99 that goes into every caller number and session id, so that two runs (warm-up, then
-- the measured run) never share a caller: a caller whose call the warm-up cut off would be
-- offered to resume it. Callers are +2439TTIINNNN (loadgen.lua's respondents are +2438...).

-- per-thread state; n/completed/bad/first_error are globals so done() can read them via t:get()
local hop = 0            -- 0..6, next request to send
local answers = {}
local sid = ""
local caller = ""
local next_path = nil    -- where the next request goes (the last reply's callbackUrl)
n = 0                    -- calls started by this thread
completed = 0
bad = 0
first_error = ""
local my_id = 0
local max_sessions = 0
local run_tag = 0

-- The flow's voice number (benches/flows/bench.toml `voice`).
local DESTINATION = "+243900000384"
-- Where the gateway would keep the recording: loopback, a port nothing serves (discard).
local RECORDING_BASE = "http://127.0.0.1:9/rec/"

-- What each reply must be, by the request it answers (hop 0..5): the element that collects the
-- next answer and the step the callbackUrl names; nil collect = the closing.
local expect = {
   [0] = { tag = "<GetDigits", step = "lang" },
   [1] = { tag = "<GetDigits", step = "consent" },
   [2] = { tag = "<GetDigits", step = "incident_type" },
   [3] = { tag = "<Record", step = "description" },
   [4] = { tag = "<GetDigits", step = "people" },
}
-- The closing plays the `thanks` message's clips (audio/<lang>/thanks.<n>.wav).
local CLOSING = "/thanks."

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

local function urlencode(s)
   return (string.gsub(s, "[^%w%-%._~]", function(c)
      if c == " " then return "+" end
      return string.format("%%%02X", string.byte(c))
   end))
end

local function new_session()
   n = n + 1
   sid = string.format("wrk-voice-%d-%d-%d-%d", run_tag, os.time() % 100000, my_id, n)
   caller = string.format("+2439%02d%02d%04d", run_tag, my_id % 100, n % 10000)
   answers = {
      tostring(math.random(1, 3)),
      "1",
      tostring(math.random(1, 8)),
      string.format("%s%02d-%d-%d.mp3", RECORDING_BASE, run_tag, my_id, n),
      tostring(math.random(0, 9999)),
   }
   next_path = nil
   hop = 0
end

function init(args)
   my_id = tonumber(wrk.thread:get("tid")) or 0
   max_sessions = tonumber(args[1] or "0") or 0
   run_tag = (tonumber(args[2] or "0") or 0) % 100
   math.randomseed(os.time() + my_id * 7919)
   new_session()
end

function request()
   local body = "sessionId=" .. urlencode(sid)
      .. "&direction=Inbound"
      .. "&callerNumber=" .. urlencode(caller)
      .. "&destinationNumber=" .. urlencode(DESTINATION)
   local path = next_path
   if hop == 6 then
      body = "isActive=0&" .. body
         .. "&durationInSeconds=42&currencyCode=USD&amount=0.05"
         .. "&callSessionState=Completed&hangupCause=NORMAL_CLEARING"
      path = nil
   else
      body = "isActive=1&" .. body
      if hop == 4 then
         body = body .. "&recordingUrl=" .. urlencode(answers[4])
      elseif hop >= 1 then
         body = body .. "&dtmfDigits=" .. urlencode(answers[hop])
      end
   end
   return wrk.format("POST", path, { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

-- The callbackUrl of the element that collects the next answer, as path and query (Africa's
-- Talking calls the absolute URL; wrk keeps its one loopback connection), and its `step`.
local function callback(body, tag)
   local at = string.find(body, tag, 1, true)
   if not at then return nil end
   local url = string.match(body, 'callbackUrl="([^"]*)"', at)
   if not url then return nil end
   url = string.gsub(url, "&amp;", "&")
   local path = string.match(url, "^%a[%w+.-]*://[^/]*(/.*)$") or url
   return path, string.match(path, "[?&]step=([^&]*)")
end

local function fail(status, body, why)
   bad = bad + 1
   if first_error == "" then
      local excerpt = string.gsub(body or "", "^<%?xml[^>]*%?>", "")
      first_error = string.format("hop %d: %s: HTTP %d %s", hop + 1, why, status, string.sub(excerpt, 1, 160))
   end
   new_session()
end

function response(status, headers, body)
   body = body or ""
   if status ~= 200 then
      return fail(status, body, "want HTTP 200")
   end
   if hop == 6 then
      if body ~= "" then
         return fail(status, body, "want an empty reply to isActive=0")
      end
      completed = completed + 1
      if max_sessions > 0 and n >= max_sessions then
         wrk.thread:stop()
         return
      end
      new_session()
      return
   end
   if hop == 5 then
      if not string.find(body, CLOSING, 1, true) or string.find(body, "<GetDigits", 1, true)
         or string.find(body, "<Record", 1, true) or string.find(body, "<Redirect", 1, true)
         or string.find(body, "<Reject", 1, true) then
         return fail(status, body, "want the closing (thanks, nothing collected)")
      end
      hop = 6
      return
   end
   local want = expect[hop]
   local path, step = callback(body, want.tag)
   if not path or step ~= want.step then
      return fail(status, body, string.format("want %s for step %s", want.tag, want.step))
   end
   next_path = path
   hop = hop + 1
end

-- A JSON string (Lua's %q is not JSON: it escapes a newline as backslash-newline).
local function json_string(s)
   return '"' .. string.gsub(s, '[%c"\\]', function(c)
      if c == '"' then return '\\"' end
      if c == "\\" then return "\\\\" end
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local total_completed, total_bad, total_started, err = 0, 0, 0, ""
   for _, t in ipairs(threads) do
      total_completed = total_completed + (tonumber(t:get("completed")) or 0)
      total_bad = total_bad + (tonumber(t:get("bad")) or 0)
      total_started = total_started + (tonumber(t:get("n")) or 0)
      if err == "" then err = t:get("first_error") or "" end
   end
   local secs = summary.duration / 1e6
   local transport_errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout
   io.write(string.format(
      "LOADGEN-WRK {\"duration_s\": %.3f, \"hops\": %d, \"hops_per_s\": %.1f, "
      .. "\"sessions_completed\": %d, \"sessions_per_s\": %.1f, \"sessions_started\": %d, "
      .. "\"bad_responses\": %d, \"transport_errors\": %d, "
      .. "\"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f, \"mean\": %.3f}, "
      .. "\"first_error\": %s}\n",
      secs, summary.requests, summary.requests / secs,
      total_completed, total_completed / secs, total_started,
      total_bad, transport_errors,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, latency.mean / 1000, json_string(err)))
end

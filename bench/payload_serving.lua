-- wrk script for bench/payload_serving.sh.
--
--   wrk ... -s payload_serving.lua URL -- full  SIZE_BYTES
--   wrk ... -s payload_serving.lua URL -- range SIZE_BYTES
--
-- full: every request is a plain GET of URL (the whole blob).
-- range: every request asks for one random 1 MiB-aligned MiB of the blob,
--   "Range: bytes=OFFSET-(OFFSET + 1 MiB - 1)".
-- At the end prints one line the script reads:
--   RESULT requests=N bytes=N seconds=S connect=N read=N write=N status=N timeout=N
-- bytes counts every byte read from the sockets (headers included, and the
-- part of responses still in flight when the time ran out).

local MIB = 1048576
local next_seed = 1

-- Runs in the main Lua state once per wrk thread, before that thread's init.
function setup(thread)
  thread:set("seed", os.time() * 1000 + next_seed)
  next_seed = next_seed + 1
end

local mode, blocks, plain

function init(args)
  mode = args[1]
  local size = tonumber(args[2])
  if (mode ~= "full" and mode ~= "range") or size == nil or size < MIB then
    error("usage: -- full|range SIZE_BYTES (at least 1 MiB)")
  end
  blocks = math.floor(size / MIB)
  math.randomseed(seed)
  plain = wrk.format("GET")
end

function request()
  if mode == "full" then
    return plain
  end
  local first = math.random(0, blocks - 1) * MIB
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. first .. "-" .. (first + MIB - 1) })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d bytes=%d seconds=%.6f connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.bytes, summary.duration / 1e6,
    e.connect, e.read, e.write, e.status, e.timeout))
end

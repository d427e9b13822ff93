-- wrk script: every request takes the next path of $PATHS_FILE (one path a line).
-- Each request takes the next path of paths.txt (every thread starts at its own offset),
-- so the first pass over the list is cold and later passes are warm.
local paths = {}
for line in io.lines(os.getenv("PATHS_FILE") or "paths.txt") do paths[#paths + 1] = line end
local counter = 0
local threads = {}
setup = function(thread)
  thread:set("offset", #threads * 97)
  table.insert(threads, thread)
end
init = function(args)
  counter = tonumber(offset) or 0
end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("requests %d, errors: connect %d read %d status %d timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.status,
    summary.errors.timeout))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("p%d %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end

-- wrk script: sends N requests per write (TechEmpower "pipelined plaintext").
-- usage: wrk -t1 -c64 -d5s URL -s bench/pipeline.lua -- 16
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil)
  end
  req = table.concat(r)
end

request = function()
  return req
end

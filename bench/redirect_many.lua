-- wrk script: redirects to random slugs among rd0 .. rd<N-1> (N from the first argument,
-- default 1000), so that concurrent requests rarely share a cache miss.
local n = 1000

function init(args)
    if args[1] then
        n = tonumber(args[1])
    end
    math.randomseed(os.time())
end

function request()
    return wrk.format("GET", "/rd" .. math.random(0, n - 1))
end

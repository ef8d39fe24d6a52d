-- wrk script: POST /v1/links with a generated slug (the server draws it), authenticated.
-- usage: wrk -t1 -c64 -d5s http://127.0.0.1:PORT/v1/links -s bench/create_link.lua -- API_KEY
init = function(args)
  wrk.method = "POST"
  wrk.body = '{"url":"https://www.debian.org/releases/bookworm/"}'
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end

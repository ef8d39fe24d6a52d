#!/usr/bin/env bash
# The todo example as a process, every endpoint exercised with curl (issue 16):
#   todo_curl.sh <todo binary>
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/keel-todo-XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "todo: $*" >&2; echo "--- log:" >&2; cat "$work/log" >&2 || true; exit 1; }

: >"$work/log"  # exists before the server writes to it: the loop below reads it at once
"$bin" --server.port 0 --server.threads 1 --todo.db "$work/todo.db" --todo.cors_origin https://app.example \
       --admin.listen "" 2>"$work/log" &
pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*"msg":"listening".*"addr":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$work/log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || fail "exited before listening"
  sleep 0.05
done
[ -n "$port" ] || fail "never listened"
grep -q '"msg":"database migrated","applied":1' "$work/log" || fail "the migration was not applied at start-up"
api="http://127.0.0.1:$port/v1/todos"
json='Content-Type: application/json'

expect() {  # expect <what> <status> <body substring> -- curl args...
  local what=$1 want_status=$2 want_body=$3
  shift 4
  local status
  status=$(curl -s -o "$work/body" -w '%{http_code}' "$@")
  [ "$status" = "$want_status" ] || fail "$what: status $status, want $want_status: $(cat "$work/body")"
  if [ -n "$want_body" ]; then
    grep -qF -- "$want_body" "$work/body" || fail "$what: body lacks $want_body: $(cat "$work/body")"
  fi
}

expect "create" 201 '"id":1,"title":"buy milk","done":false' -- -X POST -H "$json" -d '{"title":"buy milk"}' "$api"
expect "create another" 201 '"id":2,"title":"walk","done":true' -- -X POST -H "$json" -d '{"title":"walk","done":true}' "$api"
expect "read" 200 '"title":"buy milk"' -- "$api/1"
expect "update" 200 '"id":1,"title":"buy oat milk","done":true' -- -X PATCH -H "$json" -d '{"title":"buy oat milk","done":true}' "$api/1"
expect "list" 200 '"id":2' -- "$api?done=true&limit=10"
expect "list none" 200 '[]' -- "$api?done=false"
expect "delete" 204 '' -- -X DELETE "$api/2"
expect "read deleted" 404 '"status":404' -- "$api/2"
expect "bad fields" 400 '"pointer":"/title"' -- -X POST -H "$json" -d '{"title":"","done":"x"}' "$api"
grep -qF '"pointer":"/done"' "$work/body" || fail "the 400 does not name /done too: $(cat "$work/body")"
expect "not json" 415 '"status":415' -- -X POST -H 'Content-Type: text/plain' -d 'milk' "$api"
expect "repeated limit" 400 '"pointer":"/limit"' -- "$api?limit=1&limit=2"
# The contract, derived from the routes: every operation, the types' rules in the schemas.
expect "contract" 200 '"/v1/todos/{id}":{"get":{"summary":"Read a todo"' -- "http://127.0.0.1:$port/openapi.json"
grep -qF '"title":{"type":"string","minLength":1,"maxLength":200}' "$work/body" || fail "NewTodo's rule is not in its schema"
# CORS preflight from the allowed origin; the rate limit's headers on every answer.
headers=$(curl -s -D - -o /dev/null -X OPTIONS -H 'Origin: https://app.example' -H 'Access-Control-Request-Method: PATCH' "$api/1")
echo "$headers" | grep -qi '^access-control-allow-origin: https://app.example' || fail "no CORS answer: $headers"
headers=$(curl -s -D - -o /dev/null "$api/1")
echo "$headers" | grep -qi '^ratelimit-limit:' || fail "no rate-limit headers: $headers"
echo "$headers" | grep -qi '^x-request-id:' || fail "no request id: $headers"

kill -TERM "$pid"
wait "$pid" || fail "did not exit 0 on SIGTERM"
pid=""
grep -q '"msg":"request".*"route":"/v1/todos/{id}"' "$work/log" || fail "no access log lines"
echo "todo: every endpoint answered as documented"

# ADMIN is the key `make run` printed at first start.
LINKD=${LINKD:-http://127.0.0.1:8080}
json='Content-Type: application/json'

# An admin creates an API key for a team (the key is shown once):
KEY=$(curl -s -X POST "$LINKD/v1/keys" -H "Authorization: Bearer $ADMIN" -H "$json" \
        -d '{"name":"docs team"}' | sed -E 's/.*"key":"([^"]+)".*/\1/')

# The team shortens a URL:
curl -s -X POST "$LINKD/v1/links" -H "Authorization: Bearer $KEY" -H "$json" \
     -d '{"url":"https://www.debian.org/releases/bookworm/","slug":"bookworm"}'
echo

# Anyone follows it (302 Found, Location: the URL):
curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$LINKD/bookworm"

# The team reads its statistics (total and per day for 30 days):
curl -s "$LINKD/v1/links/bookworm/stats" -H "Authorization: Bearer $KEY" | head -c 120
echo

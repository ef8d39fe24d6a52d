// bench/techempower/peers: the TechEmpower test types in Go, the peers keel's app is measured
// against: go-chi on net/http, or fasthttp; both on PostgreSQL through pgx v4's pool, every
// request's queries sent as one batch (pgx pipelines a batch), one statement per row. Built
// from Debian's packages in GOPATH mode (bench/techempower/run builds it).
//
//	techempower-go -server chi|fasthttp -addr 127.0.0.1:8080 -db postgresql://... -pool 16
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"html"
	"log"
	"math/rand"
	"net/http"
	"sort"
	"strconv"

	"github.com/go-chi/chi"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
	"github.com/valyala/fasthttp"
)

type World struct {
	ID           int32 `json:"id"`
	RandomNumber int32 `json:"randomNumber"`
}

type Fortune struct {
	ID      int32
	Message string
}

const (
	selectWorld = "SELECT id, randomnumber FROM world WHERE id = $1"
	updateWorld = "UPDATE world SET randomnumber = $2 WHERE id = $1"
)

var (
	pool  *pgxpool.Pool
	cache []World
)

func randomID() int32 { return int32(rand.Intn(10000)) + 1 }

// count applies the suite's rule: a number clamped to 1..500, anything else 1.
func count(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 1
	}
	if n > 500 {
		return 500
	}
	return n
}

func worlds(ctx context.Context, n int) ([]World, error) {
	b := &pgx.Batch{}
	for i := 0; i < n; i++ {
		b.Queue(selectWorld, randomID())
	}
	br := pool.SendBatch(ctx, b)
	defer br.Close()
	out := make([]World, n)
	for i := range out {
		if err := br.QueryRow().Scan(&out[i].ID, &out[i].RandomNumber); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func updated(ctx context.Context, n int) ([]World, error) {
	ws, err := worlds(ctx, n)
	if err != nil {
		return nil, err
	}
	for i := range ws {
		ws[i].RandomNumber = randomID()
	}
	sorted := append([]World(nil), ws...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID }) // an id drawn twice keeps its last value
	b := &pgx.Batch{}
	for _, w := range sorted {
		b.Queue(updateWorld, w.ID, w.RandomNumber)
	}
	br := pool.SendBatch(ctx, b)
	defer br.Close()
	for range sorted {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

func fortunesPage(ctx context.Context) ([]byte, error) {
	rows, err := pool.Query(ctx, "SELECT id, message FROM fortune")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fs := []Fortune{{0, "Additional fortune added at request time."}}
	for rows.Next() {
		var f Fortune
		if err := rows.Scan(&f.ID, &f.Message); err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Message < fs[j].Message })
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>")
	for _, f := range fs {
		b.WriteString("<tr><td>")
		b.WriteString(strconv.Itoa(int(f.ID)))
		b.WriteString("</td><td>")
		b.WriteString(html.EscapeString(f.Message))
		b.WriteString("</td></tr>")
	}
	b.WriteString("</table></body></html>")
	return b.Bytes(), nil
}

func cached(n int) []World {
	out := make([]World, n)
	for i := range out {
		out[i] = cache[randomID()-1]
	}
	return out
}

// answer is one test's response: status, content type, body.
type answer struct {
	status int
	ctype  string
	body   []byte
}

func jsonAnswer(v interface{}, err error) answer {
	if err != nil {
		return answer{500, "text/plain", []byte(err.Error())}
	}
	b, _ := json.Marshal(v)
	return answer{200, "application/json", b}
}

// route answers a test by path; the query parameter comes from the framework.
func route(ctx context.Context, path string, param func(string) string) (answer, bool) {
	switch path {
	case "/plaintext":
		return answer{200, "text/plain", []byte("Hello, World!")}, true
	case "/json":
		return jsonAnswer(struct {
			Message string `json:"message"`
		}{"Hello, World!"}, nil), true
	case "/db":
		ws, err := worlds(ctx, 1)
		if err != nil {
			return jsonAnswer(nil, err), true
		}
		return jsonAnswer(ws[0], nil), true
	case "/queries":
		ws, err := worlds(ctx, count(param("queries")))
		return jsonAnswer(ws, err), true
	case "/updates":
		ws, err := updated(ctx, count(param("queries")))
		return jsonAnswer(ws, err), true
	case "/cached-queries":
		return jsonAnswer(cached(count(param("count"))), nil), true
	case "/fortunes":
		page, err := fortunesPage(ctx)
		if err != nil {
			return jsonAnswer(nil, err), true
		}
		return answer{200, "text/html; charset=utf-8", page}, true
	}
	return answer{}, false
}

func serveChi(addr string) error {
	r := chi.NewRouter()
	for _, p := range []string{"/plaintext", "/json", "/db", "/queries", "/updates", "/cached-queries", "/fortunes"} {
		path := p
		r.Get(path, func(w http.ResponseWriter, req *http.Request) {
			a, _ := route(req.Context(), path, req.URL.Query().Get)
			w.Header().Set("Server", "chi")
			w.Header().Set("Content-Type", a.ctype)
			w.WriteHeader(a.status)
			w.Write(a.body)
		})
	}
	return http.ListenAndServe(addr, r)
}

func serveFasthttp(addr string) error {
	s := &fasthttp.Server{Name: "fasthttp", Handler: func(c *fasthttp.RequestCtx) {
		a, ok := route(context.Background(), string(c.Path()), func(name string) string { return string(c.QueryArgs().Peek(name)) })
		if !ok {
			c.Error("not found", 404)
			return
		}
		c.SetStatusCode(a.status)
		c.SetContentType(a.ctype)
		c.SetBody(a.body)
	}}
	return s.ListenAndServe(addr)
}

func main() {
	server := flag.String("server", "chi", "chi or fasthttp")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	db := flag.String("db", "", "PostgreSQL URL")
	size := flag.Int("pool", 16, "PostgreSQL connections")
	flag.Parse()
	cfg, err := pgxpool.ParseConfig(*db)
	if err != nil {
		log.Fatal(err)
	}
	cfg.MaxConns = int32(*size)
	if pool, err = pgxpool.ConnectConfig(context.Background(), cfg); err != nil {
		log.Fatal(err)
	}
	rows, err := pool.Query(context.Background(), "SELECT id, randomnumber FROM world ORDER BY id")
	if err != nil {
		log.Fatal(err)
	}
	for rows.Next() {
		var w World
		if err := rows.Scan(&w.ID, &w.RandomNumber); err != nil {
			log.Fatal(err)
		}
		cache = append(cache, w)
	}
	rows.Close()
	if *server == "fasthttp" {
		log.Fatal(serveFasthttp(*addr))
	}
	log.Fatal(serveChi(*addr))
}

// Peer for bench/run: go-chi v5 (Debian's golang-github-go-chi-chi-dev).
package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"

	"github.com/go-chi/chi/v5"
)

type message struct {
	Message string `json:"message"`
}

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func main() {
	r := chi.NewRouter()
	r.Get("/plaintext", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("Hello, World!"))
	})
	r.Get("/json", func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(&message{Message: "Hello, World!"})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	r.Get("/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(&user{ID: chi.URLParam(r, "id"), Name: "user"})
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	http.ListenAndServe("127.0.0.1:"+os.Args[1], r)
}

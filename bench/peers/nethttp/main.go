// Peer for bench/run: Go's net/http with the standard ServeMux.
package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
)

type message struct {
	Message string `json:"message"`
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/plaintext", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("Hello, World!"))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(&message{Message: "Hello, World!"})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	http.ListenAndServe("127.0.0.1:"+os.Args[1], mux)
}

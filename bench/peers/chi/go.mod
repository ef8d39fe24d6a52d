module keelbench/chi

go 1.19

require github.com/go-chi/chi/v5 v5.0.8

replace github.com/go-chi/chi/v5 => /usr/share/gocode/src/github.com/go-chi/chi

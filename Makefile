# The README's two commands. Both install what is missing first (scripts/bootstrap), each only
# what its job needs: `make run` what building and running linkd needs, `make test` the tests' tools.
.PHONY: run test build-release build-linkd build-dev fuzz bench clean bootstrap install

JOBS ?= $(shell nproc)

bootstrap:
	@scripts/bootstrap all

# The release preset configures the tests and micro-benchmarks too (GoogleTest, Google Benchmark).
build-release:
	@scripts/bootstrap test
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

# Only what `make run` runs: linkd and the keel modules it links (release, no tests configured,
# so neither GoogleTest nor Google Benchmark is needed).
build-linkd:
	@scripts/bootstrap run
	@cmake --preset run >/dev/null
	@cmake --build --preset run -j $(JOBS) --target linkd

build-dev:
	@scripts/bootstrap test
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

run: build-linkd
	./build/run/services/linkd/linkd --server.host 127.0.0.1 --server.port 8080 --db.url sqlite://linkd.db

test: build-dev
	ctest --preset dev -j $(JOBS)

fuzz:
	@scripts/fuzz

bench: build-release
	@scripts/bootstrap bench
	bench/run

# Installs keel (headers, libraries, CMake package, pkg-config files) under PREFIX.
PREFIX ?= /usr/local
install: build-release
	cmake --install build/release --prefix $(PREFIX)

clean:
	rm -rf build

# The README's two commands. Both install what is missing first (scripts/bootstrap).
.PHONY: run test build-release build-linkd build-dev fuzz bench clean bootstrap install

JOBS ?= $(shell nproc)

bootstrap:
	@scripts/bootstrap

build-release: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

# Only what `make run` runs: linkd and the keel modules it links.
build-linkd: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target linkd

build-dev: bootstrap
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

run: build-linkd
	./build/release/services/linkd/linkd --server.host 127.0.0.1 --server.port 8080 --db.url sqlite://linkd.db

test: build-dev
	ctest --preset dev -j $(JOBS)

fuzz: bootstrap
	@scripts/fuzz

bench: build-release
	bench/run

# Installs keel (headers, libraries, CMake package, pkg-config files) under PREFIX.
PREFIX ?= /usr/local
install: build-release
	cmake --install build/release --prefix $(PREFIX)

clean:
	rm -rf build

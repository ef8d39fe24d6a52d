# The README's two commands. Both install what is missing first (scripts/bootstrap).
.PHONY: run test build-release build-dev fuzz bench clean bootstrap

JOBS ?= $(shell nproc)

bootstrap:
	@scripts/bootstrap

build-release: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-dev: bootstrap
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

run: build-release
	./build/release/services/linkd/linkd --server.host 127.0.0.1 --server.port 8080 --db.url sqlite://linkd.db

test: build-dev
	ctest --preset dev -j $(JOBS)

fuzz: bootstrap
	@scripts/fuzz

bench: build-release
	bench/run

clean:
	rm -rf build

# Makefile — a thin front for the README's commands. The build itself is Meson + Ninja.
FUZZ_SECONDS ?= 60

.PHONY: all deps build test quickstart fuzz bench clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@[ -f build/build.ninja ] || meson setup build >/dev/null
	@ninja -C build >/dev/null

test: deps
	@bash scripts/test.sh

quickstart: build
	@bash scripts/quickstart.sh build/src/cli/warden

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench: build
	@bash scripts/bench.sh

clean:
	rm -rf build build-asan build-fuzz build-tsan build.setup.log build-asan.setup.log

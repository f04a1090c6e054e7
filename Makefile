# Thin wrapper: every target installs what is missing, then drives CMake.
#   make demo    build and run certgate (the built-in demo when there is no config)
#   make check   the whole test suite: release build, ASan+UBSan build, short fuzzing
JOBS        ?= $(shell nproc)
BUILD       ?= build
FUZZ_SECONDS ?= 10

.PHONY: all deps build demo check check-release check-asan check-fuzz fuzz-long bench bench-tlslib clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/release/Makefile: deps
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCG_WERROR=ON >/dev/null

build: deps $(BUILD)/release/Makefile
	@cmake --build $(BUILD)/release -j $(JOBS)

demo: build
	./$(BUILD)/release/certgate serve

check-release: build
	cd $(BUILD)/release && ctest --output-on-failure -j $(JOBS)

check-asan: deps
	@cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DCG_SANITIZE=ON -DCG_WERROR=ON >/dev/null
	@cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest --output-on-failure -j $(JOBS) -LE peer

check-fuzz: deps
	@CC=clang cmake -S . -B $(BUILD)/fuzz -DCMAKE_BUILD_TYPE=Debug -DCG_FUZZ=ON -DCG_WERROR=ON >/dev/null
	@cmake --build $(BUILD)/fuzz -j $(JOBS)
	@./scripts/run-fuzzers.sh $(BUILD)/fuzz/fuzz $(FUZZ_SECONDS)

check: check-release check-asan check-fuzz

fuzz-long:
	$(MAKE) check-fuzz FUZZ_SECONDS=600

bench: build
	./bench/compare

# TLS libraries side by side (bench/README.md); needs valgrind, and GnuTLS and
# wolfSSL's -dev packages for those engines. Not part of check.
bench-tlslib:
	./bench/tlslib/run

clean:
	rm -rf $(BUILD)

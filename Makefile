# Norn: the two commands are `make run` and `make test` (see README.md).
BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
FUZZ_DIR  ?= build-fuzz
FUZZ_SECONDS ?= 30
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test test-unit test-asan test-fuzz clean

all: build

# Installs the Debian packages listed in scripts/debian-packages.txt (only the missing ones).
deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

# Single-binary Norn on :3100 (HTTP) and :9095 (gRPC) with embedded defaults, data under ./data.
run: deps build
	./$(BUILD_DIR)/norn

# Every test: unit and integration tests of the RelWithDebInfo build, then the unit tests again
# under AddressSanitizer + UndefinedBehaviorSanitizer, then the LogQL parser and template fuzzers.
test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)
	$(MAKE) test-asan
	$(MAKE) test-fuzz

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) -L unit

test-asan:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNORN_UNIT_TESTS_ONLY=ON \
	  -DNORN_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN_DIR) -j$(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS) -L unit

# libFuzzer targets (clang) for the LogQL parser and the template engine, FUZZ_SECONDS each.
test-fuzz:
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DNORN_FUZZ=ON -DNORN_UNIT_TESTS_ONLY=ON $(CMAKE_FLAGS)
	cmake --build $(FUZZ_DIR) -j$(JOBS) --target logql_parser_fuzz logql_template_fuzz
	scripts/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)

# Norn: the two commands are `make run` and `make test` (see README.md).
BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test test-unit test-asan clean

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
# under AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)
	$(MAKE) test-asan

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) -L unit

test-asan:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNORN_UNIT_TESTS_ONLY=ON \
	  -DNORN_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN_DIR) -j$(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS) -L unit

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)

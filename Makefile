# The two commands of the README: `make run` and `make test`. Both install what is missing.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
PREFIX     ?= /usr/local
ASAN_DIR   ?= build-asan
TSAN_DIR   ?= build-tsan
FUZZ_DIR   ?= build-fuzz
# How long `make fuzz` runs each target (CI: a few seconds each).
FUZZ_SECONDS ?= 60

# ccache when it is installed: a new build directory, or a branch switched back to, reuses the
# objects compiled before instead of compiling them again.
LAUNCHER := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# WERROR=ON (CI) turns warnings into errors.
WERROR ?= OFF
CMAKE_FLAGS = -G Ninja $(LAUNCHER) -DCHATRIX_WERROR=$(WERROR)

# Sanitizer builds: -O1 (quicker to compile than -O2, and stacks that still match the source)
# with line numbers in the reports. Without the tools (chatrix-bench, the micro-benchmarks):
# a benchmark measures nothing under a sanitizer, and bench_smoke tests the load generator,
# which the Release run already does.
SANITIZER_FLAGS = $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCHATRIX_BUILD_TOOLS=OFF
# The threaded parts that ThreadSanitizer checks: the stores with their write queues, the
# Redis bus, the chat service, and the server on PostgreSQL. Integration and e2e are left out;
# ctest lists their unbuilt binaries as <target>_NOT_BUILT, hence the -E.
TSAN_TARGETS = chatrix storage_sqlite_test chat_unit_tests storage_pg_contract_test \
  storage_pg_store_test storage_pg_outage_test chatrix_pg_server_outage_test \
  chatrix_pg_server_password_test chatrix_cluster_tests chatrix_cluster_unit_tests

# The libFuzzer targets (fuzz/), one per parser of untrusted bytes.
FUZZ_TARGETS = frame_codec ws_frame http_auth jwt config resp

.PHONY: all deps deps-server deps-fuzz configure configure-server build run test unit install \
        test-sanitize test-tsan fuzz clean

all: build

deps-server:
	@./scripts/install-deps.sh server

deps:
	@./scripts/install-deps.sh all

deps-fuzz:
	@./scripts/install-deps.sh fuzz

# Reconfiguring takes under a second, so `configure` always states the full build; `make run`
# configures only a fresh tree (tests and tools off: their packages may be missing) and
# otherwise leaves the build directory as it is.
configure: deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCHATRIX_BUILD_TESTS=ON -DCHATRIX_BUILD_TOOLS=ON

configure-server: deps-server
	@test -f $(BUILD_DIR)/build.ninja || cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCHATRIX_BUILD_TESTS=OFF -DCHATRIX_BUILD_TOOLS=OFF

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: configure-server
	cmake --build $(BUILD_DIR) -j $(JOBS) --target chatrix
	$(BUILD_DIR)/bin/chatrix

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 600

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 -L unit

# The server and the tools under $(DESTDIR)$(PREFIX) (bin/, share/doc/chatrix/).
install: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target chatrix chatrix-cli chatrix-bench
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer (CI runs it).
test-sanitize: deps
	cmake -S . -B $(ASAN_DIR) $(SANITIZER_FLAGS) -DCHATRIX_SANITIZE=address,undefined
	cmake --build $(ASAN_DIR) -j $(JOBS)
	./scripts/ctest-sanitized.sh $(ASAN_DIR) --output-on-failure -j 2 --timeout 600

test-tsan: deps
	cmake -S . -B $(TSAN_DIR) $(SANITIZER_FLAGS) -DCHATRIX_SANITIZE=thread
	cmake --build $(TSAN_DIR) -j $(JOBS) --target $(TSAN_TARGETS)
	./scripts/ctest-sanitized.sh $(TSAN_DIR) --output-on-failure -j 2 --timeout 600 \
	  -L 'unit|pg|cluster' -LE 'integration|e2e' -E '_NOT_BUILT$$'

# Each fuzz target for FUZZ_SECONDS on a copy of its seed corpus; fails on any crash, leak or
# timeout. Its own build: clang (libFuzzer is clang's), ASan + UBSan, only the fuzz targets and
# the libraries they link.
fuzz: deps-fuzz
	cmake -S . -B $(FUZZ_DIR) $(SANITIZER_FLAGS) -DCMAKE_CXX_COMPILER=clang++ -DCHATRIX_BUILD_TESTS=OFF \
	  -DCHATRIX_SANITIZE=address,undefined -DCHATRIX_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target chatrix_fuzzers
	./scripts/run-fuzz.sh $(FUZZ_DIR)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) $(FUZZ_DIR)

# The two commands of the README: `make run` and `make test`. Both install what is missing.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
PREFIX     ?= /usr/local

# ccache when it is installed: a new build directory, or a branch switched back to, reuses the
# objects compiled before instead of compiling them again.
LAUNCHER := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CMAKE_FLAGS = -G Ninja $(LAUNCHER)

.PHONY: all deps deps-server configure configure-server build run test unit install clean

all: build

deps-server:
	@./scripts/install-deps.sh server

deps:
	@./scripts/install-deps.sh all

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
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR)

# The two commands of the README: `make run` and `make test`. Both install what is missing.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)

.PHONY: all deps configure build run test unit bench clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/bin/chatrix

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 600

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 -L unit

clean:
	rm -rf $(BUILD_DIR)

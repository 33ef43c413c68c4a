# Thin wrapper over Meson: the targets the README tells a user to run.
#   make demo   build everything (packages, binaries, guest image) and run
#               a command in a fresh micro-VM
#   make test   the whole test suite: normal build, ASan+UBSan build,
#               fuzz smoke run, format check
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
MESON_FLAGS ?= -Dwerror=true
LG          := $(BUILD)/src/cli/luminaguard

.PHONY: all deps build image demo test format check-format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_FLAGS)
	ninja -C $(BUILD)

image: build
	$(LG) image build

demo: image
	$(LG) exec -- sh -c 'echo "hello from $$(uname -sr) on $$(hostname), a fresh micro-VM"; cat /proc/cpuinfo | grep -m1 "model name"'

test: deps
	scripts/run-tests.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# vmhost: the two commands of the quick start, and the rest.
#   make run    install missing Debian packages, build, run the demo
#   make check  install, build, run every test, run them again in an
#               ASan+UBSan build, and the formatting check
#   make bench  the benchmarks (bench/run), figures for docs/performance.md
#   make site   the website, from README.md, docs/ and NEWS.md, into
#               $(BUILD)/site; make site-serve shows it on 127.0.0.1

BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_SETUP = meson setup --wipe

.PHONY: all deps build run check test asan format format-check bench soak clean \
	site site-serve

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	scripts/demo $(BUILD)

test: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dbuildtype=debug

# Every test again under AddressSanitizer and UBSan; any report fails.
asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2

format:
	git ls-files -z '*.c' '*.h' | xargs -0 clang-format -i

format-check: deps
	@git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror \
	    && echo "format-check: clean"

check: test asan format-check
	@scripts/test-summary $(BUILD) $(ASAN_BUILD)

bench: build
	bench/run $(BUILD)

# Long runs: the TLS priority scenario with testssl.sh's full scan.
soak: build
	VMHOST_BUILDDIR=$(CURDIR)/$(BUILD) VH_TESTSSL_FULL=1 \
	    tests/programs/test-tls-priority.sh

# The website (docs/website.md): a Meson target; of the C it builds only
# what the API reference needs (libvmhost-gobject and its GIR).
site: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD) site

SITE_PORT ?= 8000
site-serve: site
	@echo "site-serve: http://127.0.0.1:$(SITE_PORT)/ (Ctrl-C stops it)"
	/usr/bin/python3 -m http.server --bind 127.0.0.1 \
	    --directory $(BUILD)/site $(SITE_PORT)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

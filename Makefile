# fer - facial emotion recognition in C.
#
#   make run     install what is missing, build, run the main job
#   make test    install what is missing, build with sanitizers, run every test program
#   make         build build/fer (optimised)
#   make bench   run the benchmarks in bench/ (needs python3-torch for the peers);
#                bench-detect, bench-load, bench-video and bench-stream run the others
#   make model   retrain the built-in model from FER2013 (hours; resumable)
#
# Objects go to build/<flavour>/, with -MMD -MP dependency files.

CC      ?= cc
ARCH    ?= -march=native
PKGS    := openblas zlib libpng libjpeg libwebp expat sqlite3 libpq cairo jansson libmicrohttpd gnutls \
           libavformat libavcodec libavdevice libswscale libavutil sdl2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PKG_MISSING := $(shell for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || echo $$p; done)

# The targets a user types install the Debian packages first (scripts/install-deps.sh), then
# build in a second make: pkg-config is read when make parses this file, so the make that
# installed the libraries cannot see their flags. Building anything else without the
# libraries stops here and says what to do, instead of failing on a missing header.
INSTALLING_GOALS := deps run demo test model bench bench-detect bench-load bench-video bench-stream fuzz clean \
                    format
ifneq ($(PKG_MISSING),)
ifneq ($(filter-out $(INSTALLING_GOALS),$(or $(MAKECMDGOALS),all)),)
$(error missing libraries: $(PKG_MISSING); run `make deps` (or `make test`, `make run`), which installs them)
endif
endif

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wvla -Wundef -Wpointer-arith -Wwrite-strings -Wdouble-promotion
BASE_CFLAGS := $(WARN) -D_GNU_SOURCE -Isrc -Iinclude $(PKG_CFLAGS) -MMD -MP
LIBS := $(PKG_LIBS) -lm -lpthread

REL_CFLAGS  := $(BASE_CFLAGS) -O3 $(ARCH) -fno-math-errno $(CFLAGS)
TEST_CFLAGS := $(BASE_CFLAGS) -O1 -g -Werror -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined -fno-omit-frame-pointer $(CFLAGS)

MODULES := core nn image storage data detect train report pipeline server video
LIB_SRC := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c) $(wildcard src/$(m)/*.S))
CLI_SRC := $(wildcard src/cli/*.c)
TESTS   := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))

REL_OBJ  := $(patsubst %,build/rel/%.o,$(basename $(LIB_SRC)))
TEST_OBJ := $(patsubst %,build/asan/%.o,$(basename $(LIB_SRC)))

.PHONY: all swagger-ui run demo test deps bench bench-detect bench-load clean format model install fuzz \
        test-now run-now demo-now model-now model-report bench-now bench-detect-now bench-load-now fuzz-now \
        bench-video bench-video-now bench-stream bench-stream-now
all: build/fer swagger-ui

# /docs serves Swagger UI from build/npm (npm's swagger-ui-dist, the version tests/browser/
# package.json pins): a plain `make` fetches it too, when npm is there; fer serve finds it
# next to build/fer from any folder. Without npm, /docs says how to install it.
swagger-ui:
	@bash scripts/npm-deps.sh || echo "make: Swagger UI not installed (npm failed): /docs will say how" >&2

# Short "CC file" lines; `make V=1` prints the full commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-5s %s\n' $(1) $(2)
endif

deps:
	@scripts/install-deps.sh

# `make X` for these: install, then `make X-now` in a fresh make that sees the libraries,
# building on every core unless the command line said -j.
SUBMAKE = $(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))
test: deps
	@scripts/install-deps.sh --test
	@$(SUBMAKE) test-now
run demo model: deps
	@$(SUBMAKE) $@-now
fuzz: deps
	@scripts/install-deps.sh --fuzz
	@$(SUBMAKE) $@-now
bench bench-detect bench-load bench-video bench-stream: deps
	@scripts/install-deps.sh --bench
	@$(SUBMAKE) $@-now

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(REL_CFLAGS) -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

# Assembler files embed data (the built-in model, cascade and OpenAPI document) with .incbin.
build/rel/%.o: %.S
	@mkdir -p $(dir $@)
	$(call say,AS,$@)
	$(Q)$(CC) -c $< -o $@ -MMD -MP

build/asan/%.o: %.S
	@mkdir -p $(dir $@)
	$(call say,AS,$@)
	$(Q)$(CC) -c $< -o $@ -MMD -MP

# .incbin is invisible to -MMD: name the embedded files.
build/rel/src/pipeline/builtin_model.o build/asan/src/pipeline/builtin_model.o: models/fer-resnet.fer
build/rel/src/server/openapi_json.o build/asan/src/server/openapi_json.o: src/server/openapi.json
build/rel/src/detect/builtin_cascade.o build/asan/src/detect/builtin_cascade.o: \
    /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
build/rel/src/detect/builtin_detector.o build/asan/src/detect/builtin_detector.o: models/yunet.fer
build/rel/src/detect/yunet_arch.o build/asan/src/detect/yunet_arch.o: models/yunet.cfg

build/libfer.a: $(REL_OBJ)
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

build/fer: $(CLI_SRC:%.c=build/rel/%.o) build/libfer.a
	$(call say,LD,$@)
	$(Q)$(CC) $(REL_CFLAGS) $^ -o $@ $(LIBS)

build/asan/libfer.a: $(TEST_OBJ)
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

build/asan/fer: $(CLI_SRC:%.c=build/asan/%.o) build/asan/libfer.a
	$(call say,LD,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $^ -o $@ $(LIBS)

# The test helpers (a throwaway PostgreSQL server, an HTTP client, a temporary folder, CSV and
# image fixtures, a synthetic training task) link into every test program.
TEST_HELPERS := tests/pg_harness.c tests/http_client.c tests/tmp_dir.c tests/csv_fixture.c \
                tests/image_fixture.c tests/synth_task.c
build/asan/test_%: tests/test_%.c tests/check.h $(TEST_HELPERS) $(TEST_HELPERS:.c=.h) \
                   build/asan/libfer.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(TEST_HELPERS) build/asan/libfer.a -o $@ $(LIBS)

# Tests run with one BLAS thread (fer owns its threads) and fail on any sanitizer report;
# scripts/run-tests.sh prints the total as its last line: N passed, N failed, N skipped.
test-now: $(TESTS:%=build/asan/%) build/asan/fer build/fer
	@bash scripts/npm-deps.sh
	@bash scripts/run-tests.sh $(TESTS)

# The main job: the REST API and web app with the built-in model (scripts/serve.sh).
run-now: build/fer
	@bash scripts/serve.sh

# A short training and evaluation demonstration on FER2013.
demo-now: build/fer
	@bash scripts/demo.sh

# Retrains the built-in model (hours); resumes from runs/ when interrupted.
model-now: build/fer
	@bash scripts/train-model.sh

# The built-in model's report (models/fer-resnet-report, which fer serve shows at /report/),
# made again from FER2013 in ../shared (or DATA=folder).
DATA ?= ../shared/data/fer2013
model-report: build/fer
	build/fer report --model models/fer-resnet.fer --data $(DATA)/publictest.csv.gz \
	    --train $(DATA)/train.csv.gz --out models/fer-resnet-report --mistakes 6 \
	    --image tests/data/photos/grace_hopper.jpg

build/bench_nn: bench/bench_nn.c build/libfer.a
	$(call say,LD,$@)
	$(Q)$(CC) $(REL_CFLAGS) $< build/libfer.a -o $@ $(LIBS)

bench-now: build/fer build/bench_nn
	@bash bench/run.sh

build/bench_detect: bench/bench_detect.c build/libfer.a
	$(call say,LD,$@)
	$(Q)$(CC) $(REL_CFLAGS) $< build/libfer.a -o $@ $(LIBS)

build/bench_align: bench/bench_align.c build/libfer.a
	$(call say,LD,$@)
	$(Q)$(CC) $(REL_CFLAGS) $< build/libfer.a -o $@ $(LIBS)

build/bench_pipeline: bench/bench_pipeline.c build/libfer.a
	$(call say,LD,$@)
	$(Q)$(CC) $(REL_CFLAGS) $< build/libfer.a -o $@ $(LIBS)

bench-detect-now: build/fer build/bench_detect build/bench_pipeline
	@bash bench/detect.sh

bench-load-now: build/fer
	@bash bench/load.sh

bench-video-now: build/fer
	@bash bench/video.sh

bench-stream-now: build/fer swagger-ui
	@bash bench/stream.sh

# libFuzzer targets (clang, ASan and UBSan): build/fuzz_<parser> for each parser that reads
# what users and clients send (tests/fuzz_parsers.c, tests/fuzz_csv.c; their seeds and past
# crashes in tests/corpus/<parser>/, replayed by test_fuzz_corpus). `make fuzz
# SECONDS=N` (or RUNS=N executions) runs each from tests/corpus/<parser>/ and prints a table
# (scripts/fuzz.sh); crashes go to build/fuzz-out/<parser>/.
FUZZ_FLAGS := $(BASE_CFLAGS) -DFER_FUZZ -O1 -g -Wno-double-promotion -Wno-format-nonliteral \
              -fno-sanitize-recover=undefined
FUZZ_PARSERS := cascade multipart base64 model spec image ferplus json yunet websocket
FUZZ_TARGETS := $(FUZZ_PARSERS) csv
# the library once, instrumented for coverage; each target links it with libFuzzer's main
FUZZ_OBJ := $(patsubst %,build/fuzz/%.o,$(basename $(LIB_SRC)))
build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build/fuzz/%.o: %.S
	@mkdir -p $(dir $@)
	$(Q)clang -c $< -o $@ -MMD -MP
build/fuzz/src/pipeline/builtin_model.o: models/fer-resnet.fer
build/fuzz/src/server/openapi_json.o: src/server/openapi.json
build/fuzz/src/detect/builtin_cascade.o: \
    /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
build/fuzz/src/detect/builtin_detector.o: models/yunet.fer
build/fuzz/src/detect/yunet_arch.o: models/yunet.cfg
build/fuzz/libfer.a: $(FUZZ_OBJ)
	$(Q)ar rcs $@ $^
build/fuzz_csv: tests/fuzz_csv.c build/fuzz/libfer.a
	$(call say,FUZZ,$@)
	$(Q)clang $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined $< build/fuzz/libfer.a -o $@ $(LIBS)
$(FUZZ_PARSERS:%=build/fuzz_%): build/fuzz_%: tests/fuzz_parsers.c build/fuzz/libfer.a
	$(call say,FUZZ,$@)
	$(Q)clang $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -DFER_FUZZ_ONLY=$(shell n=0; \
	    for p in $(FUZZ_PARSERS); do [ $$p = $* ] && echo $$n; n=$$((n + 1)); done) $< \
	    build/fuzz/libfer.a -o $@ $(LIBS)
SECONDS ?= 60
RUNS ?= 0
fuzz-now: $(FUZZ_TARGETS:%=build/fuzz_%)
	@bash scripts/fuzz.sh $(SECONDS) $(RUNS) $(FUZZ_TARGETS)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the static library (with the
# built-in model and cascade), the header and a pkg-config file.
PREFIX ?= /usr/local
install: build/fer build/libfer.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 build/fer $(DESTDIR)$(PREFIX)/bin/fer
	install -m 644 build/libfer.a $(DESTDIR)$(PREFIX)/lib/libfer.a
	install -m 644 include/fer.h $(DESTDIR)$(PREFIX)/include/fer.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBS@|$(PKG_LIBS) -lm -lpthread|' \
	    -e 's|@REQUIRES@|$(PKGS)|' scripts/fer.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fer.pc

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# Description: the one Makefile of sandbench. Builds the reference servers,
# the load generator and syscost into build/ (binaries in build/bin/), the
# cmocka unit tests and the libFuzzer targets, and runs every test.
#
#   make                      release build into build/
#   make SAN=address,undefined  sanitizer build into build/san/
#   make test                 everything make test runs (see README.md)
#   make bench                the quick matrix and its report
#   make faults               the fault tests, too long for make test: faults
#                             during a run, then FAULT_RUNS (5) runs killed and resumed
#   make flake                make test FLAKE_RUNS times beside a CPU hog (default 5)
#   make V=1                  show full command lines
#   make install              programs, sandbench, units, catalogue, man pages
#                             into $(DESTDIR)$(PREFIX) (PREFIX=/usr/local)
#   make deb                  a Debian package from this tree (debian/), in build/deb/
#
# Components are found by convention, so adding a file needs no edit here:
#   servers/lib/*.c          -> build/lib/libservers.a
#   servers/NAME/main.c      -> build/bin/lunchd-NAME       (drop, activated, backend)
#   bench/NAME/*.c           -> build/lib/libNAME.a + build/bin/NAME from main.c
#   common/*.c               -> build/lib/libcommon.a, linked into every program
#   tests/unit/COMP/test_*.c -> a cmocka driver linked with libCOMP.a
#   tests/fuzz/COMP/fuzz_*.c -> a libFuzzer target built with clang from COMP's sources
#   tests/integration/*      -> executables run by tests/run (exit 0 pass, 1 fail, 77 skip)

SHELL := /bin/sh
CC ?= cc
FUZZCC ?= clang
PKGS := openssl libcap libseccomp libsystemd liburing
TEST_PKGS := cmocka
DEPS ?= scripts/deps

# The flags below come from pkg-config, which can answer only once the -dev
# packages are installed. So when it cannot, DEPS installs them while this
# file is read, before any flag is computed: every goal (make, make test,
# make bench ...) then builds in one go on a fresh machine. Only clean,
# format and deps itself skip this. DEPS's output goes to stderr, past $(shell).
ifneq ($(filter-out clean format deps,$(or $(MAKECMDGOALS),all)),)
ifneq ($(shell pkg-config --exists $(PKGS) $(TEST_PKGS) 2>/dev/null && echo ok),ok)
ifneq ($(shell $(DEPS) >&2 && echo ok),ok)
$(error $(DEPS) could not install the packages the build needs (see above))
endif
endif
endif

SAN ?=
ifeq ($(SAN),)
O := build
SANFLAGS :=
else
O := build/san
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
        -Wformat=2 -Wno-format-nonliteral -Wvla
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
              -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS) -pthread -Wl,--as-needed
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
TEST_LIBS := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

ifeq ($(V),1)
Q :=
msg = @:
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2);
endif

# --- components ---------------------------------------------------------------
SERVERS := $(patsubst servers/%/main.c,%,$(wildcard servers/*/main.c))
BENCH := $(patsubst bench/%/main.c,%,$(wildcard bench/*/main.c))

servers_SRCS := $(wildcard servers/lib/*.c)
common_SRCS := $(wildcard common/*.c)
$(foreach b,$(BENCH),$(eval $(b)_SRCS := $(filter-out bench/$(b)/main.c,$(wildcard bench/$(b)/*.c))))
COMPONENTS := servers common $(BENCH)

BINS := $(SERVERS:%=$(O)/bin/lunchd-%) $(BENCH:%=$(O)/bin/%)
LIBA := $(COMPONENTS:%=$(O)/lib/lib%.a)

UNIT_SRCS := $(foreach c,$(COMPONENTS),$(wildcard tests/unit/$(c)/test_*.c))
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/unit/%)
FUZZ_SRCS := $(foreach c,$(COMPONENTS),$(wildcard tests/fuzz/$(c)/fuzz_*.c))
FUZZ_TARGETS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)

ALL_SRCS := $(foreach c,$(COMPONENTS),$($(c)_SRCS)) \
            $(SERVERS:%=servers/%/main.c) $(BENCH:%=bench/%/main.c) $(UNIT_SRCS)

.PHONY: all unit-tests fuzz test check-unit check-integration check-fuzz objs \
        bench faults flake deps cert clean format man install deb FORCE
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

all: $(BINS)
# Naming every object keeps them from being treated as intermediate files.
objs: $(ALL_SRCS:%.c=$(O)/obj/%.o)
unit-tests: $(UNIT_TESTS)
fuzz: $(FUZZ_TARGETS)

# A changed flag line must rebuild everything: stale objects silently
# corrupt benchmark numbers.
FLAGS_LINE := $(CC) $(ALL_CFLAGS) | $(ALL_LDFLAGS) $(LIBS)
$(O)/FLAGS: FORCE | $(O)/
	$(Q)if [ "$$(cat $@ 2>/dev/null)" != '$(FLAGS_LINE)' ]; then \
		printf '%s\n' '$(FLAGS_LINE)' > $@; echo "  FLAGS   changed, rebuilding $(O)"; fi
FORCE:

%/:
	$(Q)mkdir -p $@

$(O)/obj/%.o: %.c $(O)/FLAGS
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

define component_lib
$(O)/lib/lib$(1).a: $$($(1)_SRCS:%.c=$(O)/obj/%.o) | $(O)/lib/
	$$(call msg,AR,$$@)
	$$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^
endef
$(foreach c,$(COMPONENTS),$(eval $(call component_lib,$(c))))

# --version: `git describe` of the tree, or debian/changelog's release when
# it is not a git checkout. version.c is rewritten only when that changes, so
# a new commit relinks the programs and recompiles nothing else.
# A file VERSION at the top (a copy made by make deb, a release tarball) wins.
VERSION ?= $(or $(shell cat VERSION 2>/dev/null),$(shell git describe --always --dirty \
	2>/dev/null),$(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog \
	2>/dev/null),unknown)
$(O)/version.c: FORCE | $(O)/
	$(Q)line='const char sandbench_version[] = "$(VERSION)";'; \
	if [ "$$(cat $@ 2>/dev/null)" != "$$line" ]; then printf '%s\n' "$$line" > $@; fi
$(O)/obj/version.o: $(O)/version.c $(O)/FLAGS
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -include common/version.h -c $< -o $@

$(O)/bin/lunchd-%: $(O)/obj/servers/%/main.o $(O)/lib/libservers.a $(O)/lib/libcommon.a \
                   $(O)/obj/version.o | $(O)/bin/
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

define bench_bin
$(O)/bin/$(1): $(O)/obj/bench/$(1)/main.o $(O)/lib/lib$(1).a $(O)/lib/libcommon.a \
               $(O)/obj/version.o | $(O)/bin/
	$$(call msg,LD,$$@)
	$$(Q)$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach b,$(BENCH),$(eval $(call bench_bin,$(b))))

# Unit tests link the module under test from its component library;
# TEST_LDFLAGS_<name> adds per-driver flags such as -Wl,--wrap=SYMBOL.
# Per-driver flags (one line each, sorted):

.SECONDEXPANSION:
$(O)/tests/unit/%: $(O)/obj/tests/unit/%.o $(O)/lib/lib$$(firstword $$(subst /, ,%)).a \
                   $(O)/lib/libcommon.a
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) $(TEST_LDFLAGS_$(notdir $*)) -o $@ $^ $(TEST_LIBS) $(LIBS)

# Fuzz targets: clang, libFuzzer, ASan+UBSan, the component's sources
# compiled in with coverage instrumentation.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -I. -fsanitize=fuzzer,address,undefined \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
build/fuzz/%: tests/fuzz/%.c $$($$(firstword $$(subst /, ,%))_SRCS) $(common_SRCS) $(O)/FLAGS
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZCC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(LIBS) -pthread

# --- running ------------------------------------------------------------------
TEST_SAN ?= address,undefined
# make check-fuzz fuzzes each target FUZZ_SECONDS; make test, a smoke run
# (the corpus and a few seconds of new inputs), TEST_FUZZ_SECONDS
FUZZ_SECONDS ?= 15
TEST_FUZZ_SECONDS ?= 5

check-unit: $(UNIT_TESTS)
	$(Q)tests/run unit $(UNIT_TESTS)

check-fuzz: $(FUZZ_TARGETS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run fuzz $(FUZZ_TARGETS)

check-integration: all
	$(Q)BIN=$(O)/bin tests/run integration tests/integration/*

# The runtime tools (nginx, wrk, systemd-nspawn ...) that pkg-config knows
# nothing of: quick and quiet when everything is there.
deps:
	$(Q)$(DEPS)

cert: build/cert/cert.pem
build/cert/cert.pem:
	$(Q)scripts/mkcert build/cert

# make test: release build for the integration tests (they run the real
# programs, also under systemd), sanitizer build for the unit tests, the
# sanitizer binaries for the integration tests that run a server directly.
test: deps all
	$(Q)$(MAKE) --no-print-directory SAN=$(TEST_SAN) all unit-tests
	$(Q)$(MAKE) --no-print-directory fuzz
	$(Q)FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) SAN_BIN=build/san/bin BIN=build/bin tests/run all

# make bench: the quick profile in its three regimes, every cost from paired
# windows — saturation (every directive), the fixed offered load and
# capacity (the controls whose answers those regimes know: the A/A copy, +2 us
# of work, CPUQuota=50%); the levels alone come from the capacity turns
BENCH_ARGS ?= --profile quick --mode keepalive,rate,capacity --controls-only rate,capacity \
	--duet-reps 0
bench: deps all
	$(Q)scripts/sandbench run $(BENCH_ARGS)

# make faults: the fault tests that take minutes (tests/faults/), each run
# on its own: faults provoked in the middle of a run (an instance killed, out
# of memory or stopped, the container killed, loadgen killed, the disk full),
# then runs killed with SIGKILL at random instants and resumed, then
# advise killed at a random instant of its cost run (every second time at
# its end) and advised again, ADVISE_RUNS times: the cost run resumed or
# used, complete, nothing measured twice
FAULT_RUNS ?= 5
ADVISE_RUNS ?= 2
faults: deps all
	$(Q)BIN=build/bin /usr/bin/python3 tests/faults/during.py
	$(Q)BIN=build/bin tests/faults/kill-resume.sh $(FAULT_RUNS)
	$(Q)BIN=build/bin /usr/bin/python3 tests/faults/advise-kill.py $(ADVISE_RUNS)

# make flake: make test FLAKE_RUNS times in a row beside one busy loop per
# core, and the failures per test (tests/faults/flake.sh)
FLAKE_RUNS ?= 5
flake: deps all
	$(Q)tests/faults/flake.sh $(FLAKE_RUNS)

# --- installing ----------------------------------------------------------------
# make install lays the tree out as the runner expects it (programs in
# build/bin, units, catalogue and the nginx config beside scripts/) under
# $(LIBDIR)/sandbench, links the commands into $(BINDIR) and writes man
# pages generated from each program's --help (scripts/mkman: help2man if
# installed). DESTDIR stages it (a package build); PREFIX is where it runs.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/sandbench
SB := $(LIBDIR)/sandbench
INSTALL ?= install
SBLIB := $(shell find scripts/sblib -name '*.py')
SUBCMDS := $(patsubst scripts/sblib/commands/%.py,%,$(filter-out scripts/sblib/commands/_%,$(wildcard scripts/sblib/commands/*.py)))
MANPAGES := $(patsubst %,build/man/%.1,sandbench $(SUBCMDS:%=sandbench-%) $(BENCH) $(SERVERS:%=lunchd-%))

man: $(MANPAGES)
build/man/sandbench.1: scripts/sandbench $(SBLIB) build/version.c | build/man/
	$(call msg,MAN,$@)
	$(Q)scripts/mkman $@ sandbench '$(VERSION)' 'what does hardening a systemd service cost?' scripts/sandbench
build/man/sandbench-%.1: scripts/sblib/commands/%.py $(SBLIB) build/version.c | build/man/
	$(call msg,MAN,$@)
	$(Q)scripts/mkman $@ sandbench-$* '$(VERSION)' "$$(sed -n 's/^HELP = "\(.*\)"$$/\1/p' $<)" scripts/sandbench $*
MAN_loadgen := io_uring HTTP/1.1 and HTTPS load generator
MAN_syscost := what one syscall costs under seccomp filters
MAN_lunchd-drop := reference HTTPS server that drops its privileges itself
MAN_lunchd-activated := reference HTTPS server for systemd socket activation
MAN_lunchd-backend := reference plain-HTTP server to run behind nginx
build/man/%.1: build/bin/% | build/man/
	$(call msg,MAN,$@)
	$(Q)scripts/mkman $@ $* '$(VERSION)' '$(or $(MAN_$*),$*)' $<

install: all man
	$(Q)d='$(DESTDIR)$(SB)'; set -e; \
	$(INSTALL) -d "$$d/build/bin" "$$d/servers/proxy" "$$d/servers/content" \
		'$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(DOCDIR)'; \
	$(INSTALL) -d "$$d/scripts"; \
	$(INSTALL) -m 755 scripts/sandbench scripts/mkcert scripts/deps "$$d/scripts/"; \
	for f in $(SBLIB); do $(INSTALL) -D -m 644 "$$f" "$$d/$$f"; done; \
	$(INSTALL) -m 755 $(BINS) "$$d/build/bin/"; \
	$(INSTALL) -m 644 servers/proxy/nginx.conf "$$d/servers/proxy/"; \
	$(INSTALL) -m 644 servers/content/* "$$d/servers/content/"; \
	for f in $$(find units -type f); do $(INSTALL) -D -m 644 "$$f" "$$d/$$f"; done; \
	for f in results/published/*/analysis.json; do $(INSTALL) -D -m 644 "$$f" "$$d/$$f"; done; \
	printf '%s\n' '$(VERSION)' > "$$d/VERSION"; \
	rel=$$(realpath -m --relative-to='$(BINDIR)' '$(SB)'); \
	ln -sf "$$rel/scripts/sandbench" '$(DESTDIR)$(BINDIR)/sandbench'; \
	for b in $(BENCH); do ln -sf "$$rel/build/bin/$$b" '$(DESTDIR)$(BINDIR)/'"$$b"; done; \
	$(INSTALL) -m 644 $(MANPAGES) '$(DESTDIR)$(MANDIR)/man1/'; \
	$(INSTALL) -m 644 README.md '$(DESTDIR)$(DOCDIR)/'; \
	$(INSTALL) -m 644 scripts/README.md '$(DESTDIR)$(DOCDIR)/README.scripts.md'; \
	for f in scripts/docs/*.md; do $(INSTALL) -D -m 644 "$$f" '$(DESTDIR)$(DOCDIR)/'"$$f"; done
	@echo "  INSTALL $(DESTDIR)$(PREFIX) (sandbench $(VERSION))"

# make deb: a Debian package of this tree (debian/) into build/deb/, built by
# dpkg-buildpackage in a copy of the tree that carries this VERSION.
deb:
	$(Q)rm -rf build/deb && mkdir -p build/deb/src
	$(Q)tar --exclude=./build --exclude=./.git --exclude=./results/runs -cf - . | tar -C build/deb/src -xf -
	$(Q)printf '%s\n' '$(VERSION)' > build/deb/src/VERSION
	$(Q)cd build/deb/src && dpkg-buildpackage -b -us -uc -j$$(nproc) >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; echo "make deb: dpkg-buildpackage failed (build/deb/build.log)"; exit 1; }
	@ls build/deb/*.deb

format:
	$(Q)clang-format -i $(ALL_SRCS) $(wildcard common/*.h servers/lib/*.h bench/*/*.h tests/*/*/*.h)

clean:
	rm -rf build

-include $(ALL_SRCS:%.c=$(O)/obj/%.d)

# eptsim — build, run, test.  See README.
#
#   make            build build/eptsim
#   make deps       install the Debian packages eptsim needs (when missing)
#   make run        deps + build + the default scenario for the three zap-all variants + plot
#   make test       deps + every cmocka test, plain (-Werror), then under ASan+UBSan
#   make valgrind   the end-to-end commands under valgrind (leaks and memory errors fail it)
#   make bench      speed figures (prints, never fails on a number)
#   make check-invariants  the tests and every config with the MMU invariants asserted at each step
#   make fuzz       every libFuzzer target (*/tests/fuzz_*.c, clang, ASan+UBSan) for FUZZ_SECONDS each,
#                   then random valid scenarios for FUZZ_SECONDS (scen-campaign)
#   make scen-campaign  random valid scenarios (sim/tests/test_scen.c) for SCEN_SECONDS, ASan+UBSan
#   make validate   the validation suite (configs/validation/*.ini, VALIDATE_REPLICATES runs each)
#                   against its published measurements: the table, results/validate/validate.{csv,json}

CC       ?= cc
PKGS     := inih jansson zlib libelf
DEB_PKGS := libelf-dev zlib1g-dev libinih-dev libcmocka-dev libjansson-dev gnuplot-nox pkg-config parallel

VERSION  := 0.1.0
GIT_HASH := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
            -Wno-format-truncation
CPPFLAGS  = -I. -I$(B) -D_GNU_SOURCE -DEPTSIM_VERSION='"$(VERSION)"'
# OPT is what a caller overrides (test-san: the sanitizers); CFLAGS keeps the warnings,
# -Werror and the dependency files whatever OPT is.
OPT      ?= -O2 -g
override CFLAGS := $(OPT) -std=gnu11 $(WARN) -MMD -MP $(CFLAGS)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

B        ?= build
LIB_SRC  := $(wildcard sim/*.c cpu/*.c ept/*.c workloads/*.c traces/*.c)
LIB_SRC  := $(filter-out sim/main.c,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard */tests/test_*.c)
TEST_BIN := $(patsubst %.c,$(B)/%,$(TEST_SRC))
FUZZ_SRC := $(wildcard */tests/fuzz_*.c)
FUZZ_BIN := $(patsubst %.c,$(B)/%,$(FUZZ_SRC))

.PHONY: all deps run test test-plain test-san check-invariants valgrind bench fuzz fuzz-build scen-campaign clean readme-keys validate FORCE
all: $(B)/eptsim

# The git hash lives in a generated header that changes only when HEAD does, so only the
# files that print it are rebuilt.
$(B)/version.h: FORCE
	@mkdir -p $(B)
	@echo '#define EPTSIM_GIT_HASH "$(GIT_HASH)"' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@
	@rm -f $@.tmp
$(B)/sim/main.o $(B)/sim/sim.o $(B)/sim/report.o $(B)/inv/sim/sim.o $(B)/inv/sim/report.o: $(B)/version.h

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/libeptsim.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The library again with the MMU invariants checked at every release of mmu_lock
# (-DEPTSIM_CHECK_INVARIANTS, see check-invariants), in $(B)/inv/: the random-scenario test
# (sim/tests/test_scen.c) links it, so it checks them in every build, ASan+UBSan's included.
INV_OBJ  := $(LIB_SRC:%.c=$(B)/inv/%.o)
$(B)/inv/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DEPTSIM_CHECK_INVARIANTS -c $< -o $@

$(B)/inv/libeptsim.a: $(INV_OBJ)
	@rm -f $@
	ar rcs $@ $^

# eptsim with the invariants checked: replays a failing scenario exactly as test_scen ran it.
$(B)/inv/eptsim: $(B)/sim/main.o $(B)/inv/libeptsim.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/eptsim: $(B)/sim/main.o $(B)/libeptsim.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/%: %.c $(B)/libeptsim.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/libeptsim.a $(LDLIBS) -lcmocka

$(B)/sim/tests/test_scen: sim/tests/test_scen.c $(B)/inv/libeptsim.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/inv/libeptsim.a $(LDLIBS) -lcmocka

# libFuzzer targets: only built by `make fuzz` (B=build-fuzz, clang), which supplies main().
$(FUZZ_BIN): $(B)/%: %.c $(B)/libeptsim.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FUZZ_LINK) -o $@ $< $(B)/libeptsim.a $(LDLIBS)

# Install what is missing (Debian 12).  Idempotent and quiet when all is there.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The default scenario: the seed's PCI-ROM-while-building-a-kernel guest, once per zap-all
# variant, then the comparison plot.
RUN_CONFIG := configs/pci-rom-kbuild.ini
VARIANTS   := legacy fast-flush-at-break fast-v7
run: deps
	$(MAKE) --no-print-directory all
	@for v in $(VARIANTS); do \
	  $(B)/eptsim run $(RUN_CONFIG) --set mmu.zap_all=$$v --out results/pci-rom-kbuild-$$v || exit 1; \
	done
	$(B)/eptsim plot $(foreach v,$(VARIANTS),results/pci-rom-kbuild-$(v)) --out results/pci-rom-kbuild.png
	@echo "results in results/pci-rom-kbuild-*/ and results/pci-rom-kbuild.png"

test: deps
	$(MAKE) --no-print-directory test-plain
	$(MAKE) --no-print-directory test-san

test-plain: $(TEST_BIN) $(B)/eptsim
	@./sim/tests/readme-keys.sh $(B)/eptsim --check
	@./sim/tests/run-tests.sh $(B) $(TEST_BIN)

# The validation suite (README, Validation): every configs/validation/*.ini run
# VALIDATE_REPLICATES times (replicates already done with the same config are kept; add
# VALIDATE_FLAGS=--force to run them again), the table printed, results/validate/validate.csv
# and validate.json written.  VALIDATE_FLAGS=--markdown prints the README's table.
VALIDATE_REPLICATES ?= 10
validate: $(B)/eptsim
	$(B)/eptsim validate configs/validation --replicates $(VALIDATE_REPLICATES) --out results/validate $(VALIDATE_FLAGS)

# Regenerate the README's config key table from the schema.
readme-keys: $(B)/eptsim
	./sim/tests/readme-keys.sh $(B)/eptsim

SAN_MAKE  = $(MAKE) --no-print-directory B=build-san OPT="-O1 -g $(SAN)" LDFLAGS="$(SAN)"
test-san:
	$(SAN_MAKE) test-plain

# Random valid scenarios (README, "Random scenarios"): test_scen of the ASan+UBSan build
# (invariants checked) on random seeds for SCEN_SECONDS, SCEN_JOBS at a time; prints the
# seed and the INI of every failure (kept in build-san/scen/).  `make fuzz` runs it too.
SCEN_SECONDS ?= 600
SCEN_JOBS    ?= 1
scen-campaign:
	$(SAN_MAKE) build-san/sim/tests/test_scen
	@mkdir -p build-san/scen
	EPTSIM_SCEN_SEED=random EPTSIM_SCEN_SECONDS=$(SCEN_SECONDS) EPTSIM_SCEN_JOBS=$(SCEN_JOBS) \
	  EPTSIM_SCEN_DIR=build-san/scen build-san/sim/tests/test_scen

# The tests and short runs of every config with the MMU invariants checked at every release
# of mmu_lock (kvm_check_invariants(): rmaps and sptes agree, counters match, no obsolete
# page reachable from a current root, TLBs clean after each remote flush).
CHECK_CONFIGS := $(wildcard configs/*.ini)
check-invariants: deps
	$(MAKE) --no-print-directory B=build-inv OPT="-O1 -g -DEPTSIM_CHECK_INVARIANTS" test-plain
	@for c in $(filter-out configs/scale-1t.ini,$(CHECK_CONFIGS)); do \
	  echo "check-invariants: $$c"; \
	  build-inv/eptsim run $$c --set workload.duration_ms=$(if $(CHECK_MS),$(CHECK_MS),150) --set output.series=false \
	    --out build-inv/runs/$$(basename $$c .ini) --quiet || exit 1; \
	done
	build-inv/eptsim run configs/scale-1t.ini --set guest.mem=8G --set guest.vcpus=16 --out build-inv/runs/scale --quiet
	@echo "check-invariants: all runs passed"

# The end-to-end commands under valgrind --leak-check=full --error-exitcode=1.
valgrind: deps all
	@./sim/tests/valgrind.sh $(B)

bench: deps all
	@./sim/tests/bench.sh $(B)

# Fuzzing (README, "Fuzzing"): the library with -fsanitize=fuzzer-no-link,address,undefined
# in build-fuzz/, each target linked with -fsanitize=fuzzer, then run for FUZZ_SECONDS from
# its seed corpus (fuzz-seeds/ beside it, the committed configs and sample traces) into
# build-fuzz/corpus/TARGET/.  Fails, naming the crash file, when a target finds anything.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz-build:
	$(MAKE) --no-print-directory B=build-fuzz CC=$(FUZZ_CC) \
	  OPT="-O1 -g -Wno-unknown-warning-option -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	  FUZZ_LINK="-fsanitize=fuzzer $(FUZZ_SAN)" $(FUZZ_SRC:%.c=build-fuzz/%)

fuzz:
	$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_PKGS) clang libclang-rt-14-dev"
	$(MAKE) --no-print-directory fuzz-build
	@rc=0; ./sim/tests/run-fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_SRC:%.c=build-fuzz/%) || rc=1; \
	$(MAKE) --no-print-directory scen-campaign SCEN_SECONDS=$(FUZZ_SECONDS) || rc=1; exit $$rc

clean:
	rm -rf build build-san build-inv build-fuzz

-include $(LIB_OBJ:.o=.d) $(INV_OBJ:.o=.d) $(B)/sim/main.d $(TEST_BIN:=.d)

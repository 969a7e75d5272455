# ctpd: one plain GNU Makefile.
#
#   make            build the programs and plugins into build/
#   make check      install missing Debian packages, build, run every test
#   make demo       install missing Debian packages, build, run the demo
#   make bench      benchmarks and their report
#   make fuzz       libFuzzer harnesses (clang), FUZZ_SECONDS each
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       install the Debian packages the project needs
#   make proto      regenerate the views of proto/cxtp.def
#
# Knobs: V=1 (show commands), CI=true (warnings are errors, sanitizers on),
# SANITIZE=address,undefined, COVERAGE=1, CC=clang.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
PLUGINDIR  ?= $(LIBDIR)/ctpd
DATADIR    ?= $(PREFIX)/share/ctpd
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR    ?=
B          ?= build

VERSION := 0.1.0

ifeq ($(CI),true)
WERROR   ?= 1
SANITIZE ?= address,undefined
endif

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

PKG_CONFIG ?= pkg-config
PKGS := libuv openssl libxml-2.0 usrsctp libsctp
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wwrite-strings \
	-Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough \
	-Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

OPT      ?= -O2 -g
CFLAGS   ?=
CPPFLAGS ?=
LDFLAGS  ?=
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -fPIC -Iinclude -Isrc \
	-DCTP_VERSION_STR='"$(VERSION)"' -DCTP_PLUGINDIR='"$(PLUGINDIR)"' \
	-DCTP_DATADIR='"$(DATADIR)"' -MMD -MP
ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
ifeq ($(COVERAGE),1)
BASE_CFLAGS += --coverage -O0
LDFLAGS += --coverage
endif

ALL_CFLAGS = $(BASE_CFLAGS) $(call pc_cflags,$(PKGS)) $(CPPFLAGS) $(CFLAGS)
CRYPTO_LIBS = $(call pc_libs,libcrypto)
CORE_LIBS = $(call pc_libs,$(PKGS)) -ldl -lpthread

# ---- sources -------------------------------------------------------------

# The codec: pure functions, no I/O; linked into the programs and (statically,
# position-independent) into every plugin.
CODEC_SRC := src/ctp/ctp_err.c src/ctp/ctp_proto.c src/ctp/ctp_defs.c \
	src/ctp/ctp_addr.c src/ctp/ctp_msg.c src/ctp/ctp_tlv.c src/ctp/ctp_val.c \
	src/ctp/ctp_token.c src/ctp/ctp_secret.c
# The rest of the core library the daemon, the tools and the tests share:
# every other file of src/ctp but the daemon's main.
CORE_SRC := $(filter-out $(CODEC_SRC) src/ctp/ctpd.c,$(wildcard src/ctp/*.c))

CODEC_OBJ := $(CODEC_SRC:%.c=$(B)/%.o)
CORE_OBJ  := $(CORE_SRC:%.c=$(B)/%.o) $(if $(wildcard conf/ctpd.xsd),$(B)/gen/ctp_conf_xsd.o)

PLUGINS := ipsec mld
ipsec_SRC := $(wildcard src/features/ipsec/*.c)
mld_SRC   := $(wildcard src/features/mld/*.c)
# Everything of a plugin but its descriptor (*_plugin.c) is also linked into
# the unit tests, which call the feature codecs directly.
FEATURE_TEST_OBJ := $(patsubst %.c,$(B)/%.o,$(filter-out %_plugin.c,$(ipsec_SRC) $(mld_SRC)))

PROGS := $(B)/ctpctl $(B)/ctpmn $(if $(wildcard src/ctp/ctpd.c),$(B)/ctpd)
ctpctl_SRC := $(wildcard src/ctpctl/*.c)
ctpmn_SRC  := $(wildcard src/ctpmn/*.c)

UNIT_SRC := $(wildcard tests/unit/*.c)
TEST_PLUGIN_SRC := $(wildcard tests/plugins/*.c)

GENERATED := include/ctp/ctp_proto.h src/ctp/ctp_proto.c wireshark/cxtp.lua

# ---- top-level targets ---------------------------------------------------

.PHONY: all check check-unit check-proto check-tools check-dissector check-ctl \
	check-pcap-writer check-mn check-esp check-daemon check-netns check-replay demo bench fuzz \
	install clean deps proto check-deps tests

all: $(B)/libctp.a $(PROGS) $(PLUGINS:%=$(B)/plugins/%.so)

# check and demo install what is missing first, then run a fresh make so that
# pkg-config sees the newly installed libraries.
check: deps
	$(Q)$(MAKE) --no-print-directory tests

tests: all check-proto check-lint check-unit check-tools check-ctl check-pcap-writer check-mn \
	check-esp check-daemon check-netns check-ipsec check-faults check-demo check-dissector \
	check-replay check-model check-fuzz check-valgrind
	@echo "make check: all test groups passed"

# demo: a complete handover in network namespaces (loopback without them);
# demo-decode: the example messages, encoded and decoded.
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo/handover.sh $(B)

demo-decode: all
	$(Q)tests/demo/decode-examples.sh $(B)

# bench: the IKEv2 side builds strongSwan itself (bench/ike/prepare.sh) and
# reports "not measured" with the reason when it cannot, so a package of the
# bench group that fails to install does not stop the run.
bench: deps
	$(Q)scripts/deps.sh bench || echo "bench: packages missing; the report says what was not measured"
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bench/run.sh $(B)

deps:
	$(Q)scripts/deps.sh

# ---- the codec library and programs -----------------------------------------

$(B)/%.o: %.c
	$(call say,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The configuration schema is compiled into the daemon, so --check-config
# needs no installed files.
$(B)/gen/ctp_conf_xsd.c: conf/ctpd.xsd scripts/embed.sh
	$(call say,GEN,$@)
	@mkdir -p $(dir $@)
	$(Q)scripts/embed.sh ctp_conf_xsd $< > $@

$(B)/gen/%.o: $(B)/gen/%.c
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libctpcodec.a: $(CODEC_OBJ)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/libctp.a: $(CODEC_OBJ) $(CORE_OBJ)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/ctpd: $(B)/src/ctp/ctpd.o $(B)/libctp.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libctp.a $(CORE_LIBS)

$(B)/ctpctl: $(ctpctl_SRC:%.c=$(B)/%.o) $(B)/libctp.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libctp.a $(CORE_LIBS)

# The IPsec feature without its descriptor, for programs that run ESP
# themselves (ctpmn esp, tests/esp/gw.c).
$(B)/libctpipsec.a: $(patsubst %.c,$(B)/%.o,$(filter-out %_plugin.c,$(ipsec_SRC)))
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/ctpmn: $(ctpmn_SRC:%.c=$(B)/%.o) $(B)/libctpipsec.a $(B)/libctp.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libctpipsec.a $(B)/libctp.a $(CORE_LIBS)

# Plugins: only the descriptor is exported (the codec is linked in, hidden).
define plugin_rule
$(B)/plugins/$(1).so: $$($(1)_SRC:%.c=$(B)/%.o) $(B)/libctpcodec.a
	$$(call say,LD,$$@)
	@mkdir -p $$(dir $$@)
	$$(Q)$$(CC) $$(LDFLAGS) -shared -Wl,--version-script=src/features/plugin.map \
		-o $$@ $$(filter %.o,$$^) $(B)/libctpcodec.a $$(CRYPTO_LIBS)
endef
$(foreach p,$(PLUGINS),$(eval $(call plugin_rule,$(p))))

# ---- generated views of proto/ ------------------------------------------

proto:
	$(Q)scripts/genproto.sh .

check-proto:
	$(call say,CHECK,"generated files match proto/cxtp.def")
	$(Q)scripts/genproto.sh --check .

# ---- tests -------------------------------------------------------------

# Like the real plugins, only the descriptor is exported: a test binary that
# exports the codec too (-rdynamic) would otherwise see every codec global
# twice, which AddressSanitizer reports as an ODR violation.
$(B)/tests/plugins/%.so: tests/plugins/%.c $(B)/libctpcodec.a src/features/plugin.map
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,--version-script=src/features/plugin.map \
		-o $@ $< $(B)/libctpcodec.a $(CRYPTO_LIBS)

TEST_PLUGINS := $(TEST_PLUGIN_SRC:tests/plugins/%.c=$(B)/tests/plugins/%.so)

$(B)/unit-tests: $(UNIT_SRC:%.c=$(B)/%.o) $(FEATURE_TEST_OBJ) $(B)/libctp.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -rdynamic -o $@ $(filter %.o,$^) $(B)/libctp.a \
		$(call pc_libs,cunit) $(CORE_LIBS)

$(UNIT_SRC:%.c=$(B)/%.o): ALL_CFLAGS += $(call pc_cflags,cunit) -DCTP_TEST_BUILD='"$(B)"'

check-unit: $(B)/unit-tests all $(TEST_PLUGINS)
	$(call say,TEST,unit)
	$(Q)$(B)/unit-tests

# check-valgrind: a binary cannot have both the sanitizers and valgrind, so
# this builds a second tree, $(B)-vg, without sanitizers, and runs the unit
# suite (all but the mutator, which the sanitized run covers) and the daemon
# test (which uses valgrind by itself on an unsanitized build) under it.
.PHONY: check-valgrind valgrind-run
check-valgrind:
	$(Q)$(MAKE) --no-print-directory B=$(B)-vg SANITIZE= COVERAGE= valgrind-run

valgrind-run: $(B)/unit-tests all $(TEST_PLUGINS) $(B)/tests/daemon/ctl_clients
	$(call say,VALGR,unit)
	$(Q)valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite $(B)/unit-tests -mutator > $(B)/valgrind-unit.log 2>&1 || \
		{ tail -n 40 $(B)/valgrind-unit.log; exit 1; }
	$(Q)grep -A3 'Run Summary' $(B)/valgrind-unit.log | sed 's/^/  valgrind: /'
	$(call say,VALGR,daemon)
	$(Q)tests/daemon/run.sh $(B)

check-tools: all
	$(call say,TEST,tools)
	$(Q)tests/tools/run.sh $(B)

check-ctl: all
	$(call say,TEST,ctl)
	$(Q)tests/ctl/run.sh $(B)

check-pcap-writer: all $(B)/unit-tests
	$(call say,TEST,pcap-writer)
	$(Q)tests/pcap-writer/run.sh $(B)

check-esp: all
	$(call say,TEST,esp)
	$(Q)tests/esp/run.sh $(B)

check-mn: all
	$(call say,TEST,mn)
	$(Q)tests/mn/run.sh $(B)

# A helper of tests/daemon/limits.sh: N control clients open at once.
$(B)/tests/daemon/ctl_clients: $(B)/tests/daemon/ctl_clients.o
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

check-daemon: all $(B)/tests/daemon/ctl_clients
	$(call say,TEST,daemon)
	$(Q)tests/daemon/run.sh $(B)

check-netns: all
	$(call say,TEST,netns)
	$(Q)tests/netns/handover.sh $(B)

# The relay chain S -> PR -> NR -> S' with real ESP, then its aborts.
.PHONY: check-ipsec
check-ipsec: all
	$(call say,TEST,ipsec)
	$(Q)tests/netns/ipsec.sh $(B) && tests/netns/ipsec-abort.sh $(B)

# The fault matrix (issue 9): loss, delay, duplication, reordering and
# SIGKILL at each step of the IPsec relay chain; report in $(B)/faults/.
.PHONY: check-faults
# CI runs the first FAULT_RUNS of the interleaved order (every kind, link
# and step comes early); FAULT_RUNS= runs all 288.
FAULT_RUNS ?= 216
FAULT_JOBS ?= 4
check-faults: all
	$(call say,TEST,faults)
	$(Q)tests/faults/env.sh $(B) && \
		FAULT_RUNS=$(FAULT_RUNS) FAULT_JOBS=$(FAULT_JOBS) tests/faults/run.sh $(B)

# The demo, checked: its verdict, its files, the tshark decode, no key in
# any log or control output (tests/demo/check.sh).
.PHONY: check-demo demo-decode check-lint lint
check-demo: all
	$(call say,TEST,demo)
	$(Q)tests/demo/check.sh $(B)

# cppcheck and clang-tidy over src/ (scripts/lint.sh says which checks, and why)
lint check-lint:
	$(call say,LINT,src)
	$(Q)scripts/lint.sh

check-dissector: all
	$(call say,TEST,dissector)
	$(Q)tests/dissector/run.sh $(B)

# pcap/daemon/'s captures replayed into fresh daemons (tests/replay/record.sh
# makes them, by hand).
check-replay: all
	$(call say,TEST,replay)
	$(Q)tests/replay/run.sh $(B)

# The relay chain's safety (PROFILE 5), model-checked with SPIN.
.PHONY: check-model
check-model:
	$(call say,TEST,model)
	$(Q)tests/model/run.sh $(B)

# ---- fuzzing (clang, libFuzzer) -----------------------------------------

FUZZ_SECONDS ?= 600
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)

fuzz:
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS)

# check-fuzz: every committed input of tests/fuzz/corpus/NAME/ through its
# harness, built with the ordinary compiler and a main() that replays files
# (tests/fuzz/replay.c); then, when clang is there, a short libFuzzer run of
# every harness (FUZZ_CHECK_BUDGET seconds in all, 0 to skip).  A harness
# named fuzz_FEATURE_*.c gets all of that feature's objects, its descriptor
# included, as tests/fuzz/run.sh does.
FUZZ_CHECK_BUDGET ?= 60
# In make check the corpora are replayed, and the libFuzzer runs are left to
# make fuzz: their clang build and run cost what valgrind needs instead.
tests: FUZZ_CHECK_BUDGET = 0
FUZZ_HARNESSES := $(FUZZ_SRC:tests/fuzz/%.c=%)
fuzz_feature = $(firstword $(filter $(PLUGINS),$(word 2,$(subst _, ,$(1)))))
define fuzz_replay_rule
$(B)/fuzz-replay/$(1): $(B)/tests/fuzz/$(1).o $(B)/tests/fuzz/replay.o $(2) $(B)/libctp.a
	$$(call say,LD,$$@)
	@mkdir -p $$(dir $$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(B)/libctp.a $$(CORE_LIBS)
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call fuzz_replay_rule,$(h),$(patsubst \
	%.c,$(B)/%.o,$($(call fuzz_feature,$(h))_SRC)))))

.PHONY: check-fuzz
check-fuzz: all $(FUZZ_HARNESSES:%=$(B)/fuzz-replay/%)
	$(call say,TEST,fuzz)
	$(Q)FUZZ_CHECK_BUDGET=$(FUZZ_CHECK_BUDGET) tests/fuzz/check.sh $(B)

# ---- install -------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PLUGINDIR) \
		$(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/ctpd $(DESTDIR)$(SBINDIR)
	install -m 0755 $(B)/ctpctl $(B)/ctpmn $(DESTDIR)$(BINDIR)
	install -m 0644 $(PLUGINS:%=$(B)/plugins/%.so) $(DESTDIR)$(PLUGINDIR)
	install -m 0644 wireshark/cxtp.lua conf/ctpd.xsd $(DESTDIR)$(DATADIR)
	install -m 0644 docs/ctpd.conf.5 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 docs/ctpd.8 docs/ctpctl.8 $(DESTDIR)$(MANDIR)/man8

clean:
	rm -rf $(B)

-include $(shell find $(B) -path $(B)/bench -prune -o -path $(B)/kvm-cache -prune -o -name '*.d' -type f -print 2>/dev/null)
-include tests/vm/vm.mk

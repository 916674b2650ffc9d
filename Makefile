# Portico: hand-written Makefile. Run ./configure first; V=1 shows commands.

ifeq ($(wildcard objs/config.mk),)
$(error objs/config.mk is missing: run ./configure first)
endif
include objs/config.mk

Q := $(if $(V),,@)

LIB_SRC  := $(sort $(wildcard common/*.c worker/*.c master/*.c))
LIB_SRC  := $(filter-out master/main.c,$(LIB_SRC))
LIB_OBJ  := $(patsubst %.c,objs/%.o,$(LIB_SRC))
MAIN_OBJ := objs/master/main.o
UNIT_SRC := $(sort $(wildcard test/unit/test_*.c))
UNIT_BIN := $(patsubst test/unit/%.c,objs/test/%,$(UNIT_SRC))
DEPS     := $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

.PHONY: all test test-unit test-integration test-slow run install clean fuzz

all: objs/portico

objs/portico: $(MAIN_OBJ) objs/libportico.a
	@echo "  LINK  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(MAIN_OBJ) objs/libportico.a $(LIBS)

objs/libportico.a: $(LIB_OBJ)
	@echo "  AR    $@"
	$(Q)rm -f $@ && ar rcs $@ $(LIB_OBJ)

objs/%.o: %.c objs/config.mk objs/pt_auto.h
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

objs/test/main.o: test/unit/main.c objs/config.mk
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

objs/test/%.o: test/unit/%.c objs/config.mk objs/pt_auto.h
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

# conf_helper: the conf-parsing fixture the suites share (linked into all)
objs/test/test_%: objs/test/test_%.o objs/test/main.o objs/test/conf_helper.o \
                  objs/libportico.a
	@echo "  LINK  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< objs/test/main.o \
	    objs/test/conf_helper.o objs/libportico.a $(CHECK_LIBS) $(LIBS)

-include $(DEPS) $(wildcard objs/test/*.d)

# The load-test origin for the integration tests (test/origin/origin.c):
# standalone, it links nothing of Portico. It is a test tool, not under
# test: built without sanitizers, so the connections it still holds when
# told to stop are not reported as leaks of the suite.
ORIGIN_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -O2 -g \
                 -D_GNU_SOURCE
objs/test/origin: test/origin/origin.c objs/config.mk
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(ORIGIN_CFLAGS) -o $@ $<

# One closing line "N passed, N failed" over both suites.
test: objs/portico $(UNIT_BIN) objs/test/origin
	$(Q)python3 test/run.py --unit $(UNIT_BIN)

test-unit: $(UNIT_BIN)
	$(Q)python3 test/run.py --unit-only --unit $(UNIT_BIN)

test-integration: objs/portico objs/test/origin
	$(Q)python3 test/run.py --integration-only

test-slow: objs/portico $(UNIT_BIN) objs/test/origin
	$(Q)PORTICO_SLOW=1 python3 test/run.py --unit $(UNIT_BIN)

# libFuzzer harnesses test/fuzz/fuzz_<name>.c -> objs/fuzz/fuzz_<name>, each
# run FUZZ_SECONDS over objs/fuzz/corpus-<name>, a copy of the seeds in
# test/fuzz/corpus/<name> (the committed corpus is never written). Any
# crash fails the target; its input is saved as objs/fuzz/crash-<name>-*.
# Each harness links only the sources it lists in FUZZ_SRC_<name> (plus
# FUZZ_LIBS_<name>, FUZZ_LDFLAGS_<name>), built with the sanitizers.
FUZZ_SECONDS ?= 10
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -std=gnu11 -D_GNU_SOURCE -I. -Iobjs
FUZZ_NAMES   := $(patsubst test/fuzz/fuzz_%.c,%,$(sort $(wildcard test/fuzz/fuzz_*.c)))
FUZZ_HDRS    := $(wildcard common/*.h worker/*.h test/fuzz/*.h) objs/pt_auto.h
FUZZ_SRC_LOG := common/log.c common/time.c common/str.c common/pool.c \
                common/array.c

FUZZ_SRC_http_parse := worker/http_parse.c
FUZZ_SRC_chunked    := worker/http_parse.c
FUZZ_SRC_conf       := common/conf.c $(FUZZ_SRC_LOG)
# includes reach only the harness's sandbox directory
FUZZ_LDFLAGS_conf   := -Wl,--wrap=open -Wl,--wrap=glob
FUZZ_SRC_range      := worker/http_range.c $(FUZZ_SRC_LOG)
FUZZ_SRC_headers    := worker/http_cond.c common/http_time.c \
                       worker/http_server_name.c common/regex.c \
                       $(FUZZ_SRC_LOG)
FUZZ_LIBS_headers   := -lpcre2-8
FUZZ_SRC_dns        := worker/dns.c
FUZZ_SRC_proxy_protocol := worker/proxy_protocol.c
FUZZ_SRC_accept_encoding := worker/http_accept_encoding.c $(FUZZ_SRC_LOG)

define FUZZ_RULE
objs/fuzz/fuzz_$(1): test/fuzz/fuzz_$(1).c $$(FUZZ_SRC_$(1)) $$(FUZZ_HDRS)
	@mkdir -p $$(dir $$@)
	@echo "  FUZZCC $$@"
	$$(Q)$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(FUZZ_LDFLAGS_$(1)) -o $$@ $$< \
	    $$(FUZZ_SRC_$(1)) $$(FUZZ_LIBS_$(1))
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call FUZZ_RULE,$(n))))

fuzz: $(addprefix objs/fuzz/fuzz_,$(FUZZ_NAMES))
	$(Q)set -e; for n in $(FUZZ_NAMES); do \
	    c=objs/fuzz/corpus-$$n; mkdir -p $$c; \
	    cp test/fuzz/corpus/$$n/* $$c/; \
	    echo "  FUZZ  $$n ($(FUZZ_SECONDS)s)"; \
	    objs/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -print_final_stats=1 -artifact_prefix=objs/fuzz/crash-$$n- \
	        $$c 2>objs/fuzz/$$n.log || { tail -40 objs/fuzz/$$n.log; \
	        echo "fuzz $$n: FAILED (objs/fuzz/$$n.log)"; exit 1; }; \
	    grep -E '^stat::(number_of_executed_units|new_units_added)' \
	        objs/fuzz/$$n.log | tr '\n' ' '; echo; \
	done

# Side-by-side benchmark against nginx and HAProxy (scripts/BENCH.md): the
# full run by default (about 22 minutes); BENCH_ARGS=--quick for a smoke run.
.PHONY: bench
bench: objs/portico
	$(Q)python3 scripts/bench $(BENCH_ARGS)

run: objs/portico
	$(Q)mkdir -p objs/run/logs
	$(Q)objs/portico -p $(CURDIR)/objs/run/ -c $(CURDIR)/conf/portico.conf \
	    -g "daemon off;"

# Relative configured paths live under the prefix, as at run time.
abs = $(if $(filter /%,$(1)),$(1),$(PREFIX)/$(1))

install: objs/portico
	install -d $(DESTDIR)$(dir $(SBIN_PATH)) \
	    $(DESTDIR)$(dir $(call abs,$(CONF_PATH))) \
	    $(DESTDIR)$(dir $(call abs,$(ERROR_LOG_PATH))) \
	    $(DESTDIR)$(dir $(call abs,$(PID_PATH)))
	install -m 0755 objs/portico $(DESTDIR)$(SBIN_PATH)
	for f in conf/*.conf conf/mime.types; do \
	    [ -f "$$f" ] || continue; \
	    t=$(DESTDIR)$(dir $(call abs,$(CONF_PATH)))$$(basename $$f); \
	    [ -e "$$t" ] || install -m 0644 "$$f" "$$t"; \
	done

clean:
	rm -rf objs/portico objs/libportico.a objs/common objs/worker \
	    objs/master objs/test objs/fuzz objs/run

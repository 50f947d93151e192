# ctxtrace build. Everything is built under $(OUT); `make V=1` shows full commands.
OUT ?= build
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# Skeletons and BPF objects are intermediates of a chain: keep them so a rebuild is incremental.
.SECONDARY:
.SUFFIXES:

PKGS := libbpf libelf capstone libdw zlib libsystemd libprotobuf-c
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
DAEMON_LIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd libcurl 2>/dev/null)
GV_CFLAGS := $(shell $(PKG_CONFIG) --cflags libgvc 2>/dev/null)
GV_LIBS := $(shell $(PKG_CONFIG) --libs libgvc 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	  -D_GNU_SOURCE -fno-strict-aliasing -Iinclude -Isrc -I$(OUT) -I$(OUT)/proto $(PKG_CFLAGS) $(GV_CFLAGS)
LDLIBS := $(PKG_LIBS) $(GV_LIBS) -lpthread -lm

# src/cli is the ctxtrace command, src/daemon/ctxtraced.c the daemon's main;
# every other source goes into one library both link.
CLI_SRCS := $(wildcard src/cli/*.c)
DAEMON_MAIN := $(wildcard src/daemon/ctxtraced.c)
LIB_SRCS := $(filter-out $(CLI_SRCS) $(DAEMON_MAIN),$(wildcard src/*/*.c))
# Protocol buffer definitions come from Debian's packages at build time (scripts/deps.sh),
# never copied here; protoc-c generates their C code into $(OUT)/proto/.
PROFILE_PROTO ?= /usr/share/gocode/src/github.com/google/pprof/proto/profile.proto
OTEL_PROTO_DIR ?= /usr/include
OTEL_PROTOS := opentelemetry/proto/common/v1/common.proto opentelemetry/proto/resource/v1/resource.proto \
	opentelemetry/proto/logs/v1/logs.proto opentelemetry/proto/collector/logs/v1/logs_service.proto
OTEL_SRCS := $(OTEL_PROTOS:%.proto=$(OUT)/proto/%.pb-c.c)
PROTO_SRCS := $(OUT)/proto/profile.pb-c.c $(OTEL_SRCS)
PROTO_HDRS := $(PROTO_SRCS:.c=.h)
LIB_OBJS := $(LIB_SRCS:%.c=$(OUT)/%.o) $(PROTO_SRCS:.c=.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(OUT)/%.o)
DAEMON_OBJS := $(DAEMON_MAIN:%.c=$(OUT)/%.o)
LIB := $(OUT)/libctxtrace.a

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(OUT)/%.bpf.o)
SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(OUT)/%.skel.h)
VMLINUX := $(OUT)/vmlinux.h

TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(OUT)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(OUT)/fuzz/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(OUT)/tools/%)

BINS := $(OUT)/ctxtrace $(if $(DAEMON_MAIN),$(OUT)/ctxtraced)

# The version, once: the package changelog's newest entry. $(OUT)/version.h is
# rewritten only when it changes, so what includes it rebuilds then.
VERSION := $(shell awk -F'[()]' 'NR == 1 { print $$2 }' packaging/deb/changelog)

.PHONY: FORCE all deps check unit go-tests fuzz bench eval clean demo deb offsets-table
all: $(BINS)

deps:
	$(Q)scripts/deps.sh

$(OUT)/ctxtrace: $(CLI_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/ctxtraced: $(DAEMON_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(DAEMON_LIBS)

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/version.h: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '#define CTXTRACE_VERSION "$(VERSION)"' | cmp -s - $@ || \
		echo '#define CTXTRACE_VERSION "$(VERSION)"' > $@

FORCE:

# Every userspace object waits for the skeletons, version.h and the generated
# protobuf headers, which some include.
$(OUT)/src/%.o: src/%.c | $(SKELS) $(OUT)/version.h $(PROTO_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUT)/proto/profile.pb-c.c $(OUT)/proto/profile.pb-c.h &: $(PROFILE_PROTO)
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)protoc-c --c_out=$(@D) -I$(dir $<) $(notdir $<)

$(OTEL_SRCS) $(OTEL_SRCS:.c=.h) &: $(addprefix $(OTEL_PROTO_DIR)/,$(OTEL_PROTOS))
	$(call msg,PROTOC,$(OUT)/proto/opentelemetry)
	$(Q)mkdir -p $(OUT)/proto
	$(Q)protoc-c --c_out=$(OUT)/proto -I$(OTEL_PROTO_DIR) $(OTEL_PROTOS)

$(OUT)/proto/%.o: $(OUT)/proto/%.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(VMLINUX):
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

# Header dependencies through -MMD, as for userspace objects ($(OUT)/%.bpf.d).
$(OUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Wextra -Werror -Iinclude -I$(OUT) \
		$(shell $(PKG_CONFIG) --cflags libbpf) -MMD -MP -MT $@ -MF $(@:.o=.d) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUT)/tests/%: tests/unit/%.c $(LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(LIB) $(LDLIBS) -lcmocka

# Test tools (tests/tools/*.c): small commands tests and scripts run.
$(OUT)/tools/%: tests/tools/%.c $(LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(LIB) $(LDLIBS)

# Fuzzers: clang with libFuzzer, ASan and UBSan, over the parsers' sources only.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc -I$(OUT) $(PKG_CFLAGS)
FUZZ_LIB_SRCS := $(filter src/binary/% src/util/% src/events/record.c src/daemon/config.c,$(LIB_SRCS))
$(OUT)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $^ $(PKG_LIBS)

unit: $(TEST_BINS)
go-tests:
	$(Q)scripts/build-go-tests.sh $(OUT)/go

# The README's test command: every test, one summary line.
check: all $(TEST_BINS) $(TOOL_BINS) $(FUZZ_BINS) go-tests
	$(Q)OUT=$(OUT) tests/run.sh

fuzz: $(FUZZ_BINS)
	$(Q)OUT=$(OUT) FUZZ_SECONDS=$${FUZZ_SECONDS:-60} tests/fuzz/run.sh

bench: all go-tests
	$(Q)OUT=$(OUT) scripts/bench.sh

eval: all go-tests
	$(Q)OUT=$(OUT) scripts/eval.sh

demo: all
	$(Q)OUT=$(OUT) scripts/demo.sh

# The Debian package: $(OUT)/ctxtrace_VERSION_ARCH.deb (scripts/build-deb.sh).
deb: all
	$(Q)OUT=$(OUT) scripts/build-deb.sh

offsets-table:
	$(Q)OUT=$(OUT) scripts/gen-offsets.sh src/binary/offsets_table.c

clean:
	$(call msg,CLEAN,$(OUT))
	$(Q)rm -rf $(OUT)

-include $(BPF_OBJS:.o=.d) $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(DAEMON_OBJS:.o=.d) $(TEST_BINS:=.d) $(TOOL_BINS:=.d)

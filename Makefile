# postseal: top-level build.
#
# Layout (glob driven, so a new module needs no Makefile edit):
#   lib/*.c                 -> build/libpostseal.a   (shared code, knows no daemon)
#   policy/*.c              -> build/libpolicy.a     (except policy/postseal-*.c)
#   filter/*.c              -> build/libfilter.a     (except filter/postseal-*.c)
#   policy/postseal-X.c     -> policy/postseal-X     (one program each)
#   filter/postseal-X.c     -> filter/postseal-X
#   tests/unit/test_*.c     -> tests/unit/bin/test_* (Criterion, linked with all three archives)
#
# Targets: all, check (deps + unit + e2e + short fuzz), check-unit, check-e2e, demo, bench,
#          install (PREFIX, DESTDIR), clean.  SANITIZE=1 builds with ASan+UBSan.

PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc/postseal

CC       ?= cc
PKGS      = openssl gpgme inih libcurl ldap lmdb
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror=implicit-function-declaration -MMD -MP
CPPFLAGS += -Ilib -Ipolicy -Ifilter $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LDLIBS = $(shell pkg-config --libs criterion 2>/dev/null)

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   ?= build-san
# The e2e harness and the reliability tests run the sanitized programs.
export PS_BIN_DIR := $(abspath $(BUILD)/bin)
else
BUILD   ?= build
endif

LIB_SRC    := $(wildcard lib/*.c)
POLICY_SRC := $(filter-out policy/postseal-%.c,$(wildcard policy/*.c))
FILTER_SRC := $(filter-out filter/postseal-%.c,$(wildcard filter/*.c))
PROG_SRC   := $(wildcard policy/postseal-*.c filter/postseal-*.c)
TEST_SRC   := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

LIBPOSTSEAL := $(BUILD)/libpostseal.a
LIBPOLICY   := $(BUILD)/libpolicy.a
LIBFILTER   := $(BUILD)/libfilter.a
ARCHIVES    := $(LIBPOLICY) $(LIBFILTER) $(LIBPOSTSEAL)

ifeq ($(SANITIZE),1)
PROGS := $(patsubst %.c,$(BUILD)/bin/%,$(notdir $(PROG_SRC)))
else
PROGS := $(patsubst %.c,%,$(PROG_SRC))
endif
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))

.SECONDARY:
.PHONY: all deps check check-unit check-e2e check-fuzz fuzz-long demo bench install clean format

all: $(PROGS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBPOSTSEAL): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^
$(LIBPOLICY): $(call obj,$(POLICY_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^
$(LIBFILTER): $(call obj,$(FILTER_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

ifeq ($(SANITIZE),1)
$(BUILD)/bin/%: $(BUILD)/policy/%.o $(ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(ARCHIVES) $(LDLIBS)
$(BUILD)/bin/%: $(BUILD)/filter/%.o $(ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(ARCHIVES) $(LDLIBS)
else
policy/postseal-%: $(BUILD)/policy/postseal-%.o $(ARCHIVES)
	$(CC) $(LDFLAGS) -o $@ $< $(ARCHIVES) $(LDLIBS)
filter/postseal-%: $(BUILD)/filter/postseal-%.o $(ARCHIVES)
	$(CC) $(LDFLAGS) -o $@ $< $(ARCHIVES) $(LDLIBS)
endif

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(ARCHIVES) $(LDLIBS) $(TEST_LDLIBS)

# Installs the Debian packages the build and the tests need (apt-get update first),
# only when something is missing.
deps:
	@sh tests/install-deps.sh

# The README's test command.  Everything it needs it installs itself.
check: deps
	$(MAKE) all
	@MAKE="$(MAKE)" sh tests/check.sh

check-unit: all $(TESTS)
	@sh tests/run-unit.sh $(TESTS)

check-e2e: all
	@sh tests/e2e/run.sh

check-fuzz:
	@sh tests/fuzz/run.sh

# Long manual fuzz run: FUZZ_TIME seconds per target (default 1800).
fuzz-long:
	@sh tests/fuzz/run.sh --long

demo: deps
	$(MAKE) all
	@sh tests/e2e/demo.sh

bench: deps
	$(MAKE) all
	@sh tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(PROGS) $(DESTDIR)$(BINDIR)/
	for f in contrib/man/*.8; do [ -f "$$f" ] && install -m 0644 $$f $(DESTDIR)$(MANDIR)/man8/; done; true
	for f in contrib/man/*.5; do [ -f "$$f" ] && install -m 0644 $$f $(DESTDIR)$(MANDIR)/man5/; done; true
	[ -f $(DESTDIR)$(SYSCONFDIR)/postseal.ini ] || install -m 0644 conf/postseal.ini $(DESTDIR)$(SYSCONFDIR)/postseal.ini

format:
	clang-format -i $(wildcard lib/*.[ch] policy/*.[ch] filter/*.[ch] tests/unit/*.[ch])

clean:
	rm -rf build build-san build-fuzz $(patsubst %.c,%,$(PROG_SRC)) tests/work

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

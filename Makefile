# ngx_iot_auth: build, demo, tests.
#
#   make                 build build/ngx_iot_auth_module.so
#   make run             demo gateway on 127.0.0.1:8080
#   make test            the Test::Nginx suite
#   make test-valgrind   the suite with nginx under valgrind memcheck
#   make bench           benchmarks, written to docs/benchmarks.md (~8 min)
#   make docs            render the diagrams of docs/design.md
#
# NGINX_SRC defaults to Debian's nginx-dev tree, configured with Debian's
# own flags so that the module loads into /usr/sbin/nginx.  Any nginx
# source tree of the same version built --with-compat --with-threads works
# too: make NGINX_SRC=/path/to/nginx-1.22.1

SHELL       := /bin/bash
NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
CC          ?= cc
BUILD       := $(CURDIR)/build
OBJS        := $(BUILD)/$(notdir $(CC))
MODULE      := ngx_iot_auth_module
SO          := $(BUILD)/$(MODULE).so
SOURCES     := $(wildcard $(CURDIR)/ngx_iot_auth_*.c $(CURDIR)/*.h)
PASSWD      := $(BUILD)/iot-auth-passwd
PASSWD_SRC  := $(wildcard $(CURDIR)/tools/ngx_iot_auth_passwd*.c) \
               $(CURDIR)/ngx_iot_auth_record.c

DEBIAN_DEPS := nginx-core nginx-dev libcrypt-dev libhiredis-dev libssl-dev \
               libtest-base-perl libtext-diff-perl apache2-utils whois \
               redis-server redis-sentinel curl gcc make

PROVE_ENV    = TEST_NGINX_BINARY=$(NGINX_BIN) \
               TEST_NGINX_LOAD_MODULES=$(SO) \
               PERL5LIB=$(CURDIR)/t/lib$(COMPAT)
COMPAT       = $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                       || echo :$(CURDIR)/t/compat)

.PHONY: all deps run test test-valgrind clean bench bench-deps docs

all: $(SO) $(PASSWD)

$(OBJS)/Makefile: config
	@mkdir -p $(OBJS)
	cd $(NGINX_SRC) && \
	if [ -f conf_flags ]; then \
	    . ./conf_flags && ./configure --with-cc=$(CC) \
	        --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC \
	                       $$(dpkg-buildflags --get CPPFLAGS)" \
	        --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	        "$${NGX_CONF_FLAGS[@]}" \
	        --add-dynamic-module=$(CURDIR) --builddir=$(OBJS); \
	else \
	    conf=./configure; [ -x $$conf ] || conf=auto/configure; \
	    $$conf --with-cc=$(CC) --with-compat --with-threads --with-debug \
	        $(NGINX_CONFIGURE_ARGS) \
	        --add-dynamic-module=$(CURDIR) --builddir=$(OBJS); \
	fi

$(SO): $(OBJS)/Makefile $(SOURCES)
	$(MAKE) -C $(NGINX_SRC) -f $(OBJS)/Makefile modules
	install -m 755 $(OBJS)/$(MODULE).so $@

# iot-auth-passwd (docs/credentials.md): the record rules and the tool,
# compiled with nginx's headers, the ngx_auto_config.h of the configured
# build and its CFLAGS (-Werror included); linked with libc, libcrypt and
# hiredis only.  make install-passwd DESTDIR=... PREFIX=/usr installs it
# and its man page.
$(PASSWD): $(OBJS)/Makefile $(PASSWD_SRC) $(wildcard $(CURDIR)/tools/*.h) \
           $(CURDIR)/ngx_iot_auth_record.h
	$(CC) $$(sed -n 's/^CFLAGS *= *//p' $(OBJS)/Makefile) \
	    $(addprefix -I $(NGINX_SRC)/src/,core event event/modules os/unix) \
	    -I $(OBJS) -I $(CURDIR) -o $@ $(PASSWD_SRC) \
	    $$(dpkg-buildflags --get LDFLAGS 2>/dev/null) -lcrypt -lhiredis

PREFIX      ?= /usr

.PHONY: install-passwd
install-passwd: $(PASSWD)
	install -D -m 755 $(PASSWD) $(DESTDIR)$(PREFIX)/bin/iot-auth-passwd
	install -D -m 644 $(CURDIR)/tools/iot-auth-passwd.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man1/iot-auth-passwd.1

deps:
	@missing=$$(for p in $(DEBIAN_DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

run: deps all
	SO=$(SO) NGINX_BIN=$(NGINX_BIN) ./demo/run

test: deps all
	$(PROVE_ENV) prove -r t

test-valgrind: deps all
	@command -v valgrind >/dev/null || \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind
	$(PROVE_ENV) TEST_NGINX_USE_VALGRIND=1 prove -r t

clean:
	rm -rf $(BUILD) t/servroot*


BENCH_DEPS  := wrk gnuplot-nox valgrind apache2-utils curl graphviz
DOT_SRC     := $(wildcard $(CURDIR)/docs/diagrams/*.dot)

bench-deps:
	@missing=$$(for p in $(BENCH_DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

bench: deps all bench-deps
	SO=$(SO) NGINX_BIN=$(NGINX_BIN) ./bench/run

docs: bench-deps $(DOT_SRC:.dot=.png)

$(CURDIR)/docs/diagrams/%.png: $(CURDIR)/docs/diagrams/%.dot
	dot -Tpng -Gdpi=110 -o $@ $<


# ---------------------------------------------------------------------------
# Sanitizers and fuzzing (docs/fuzzing.md)
#
#   make test-asan       the suite against an ASan+UBSan nginx + module
#   make fuzz            the libFuzzer targets, FUZZ_SECONDS each
#
# Both use one nginx built with clang, ASan and UBSan from Debian's source
# package of the installed nginx-core version (apt-get source, into
# build/nginx-src; a deb-src entry is added to apt when there is none).
# Everything is built under build/asan and build/fuzz.  The two targets
# install what they need, then run make again so that the installed nginx
# version is known.

SAN_DEPS      := $(DEBIAN_DEPS) clang libclang-rt-dev dpkg-dev \
                 libpcre2-dev zlib1g-dev
SAN_CC        ?= clang
FUZZ_SECONDS  ?= 20
ASAN_PROVE    ?= -r t
# fuzz/fuzz_X.c, those whose included module .c file exists
FUZZ_TARGETS  ?= $(shell cd $(CURDIR)/fuzz && for f in fuzz_*.c; do \
                     m=$$(sed -n 's|^\#include "\.\./\(ngx_[a-z_]*\.c\)".*|\1|p' $$f); \
                     [ -f "../$$m" ] && echo $${f%.c}; done)

NGX_DEB_VER    = $(shell dpkg-query -W -f='$${Version}' nginx-core 2>/dev/null)
NGX_DEB_SRC   := $(BUILD)/nginx-src
NGX_TREE      := $(NGX_DEB_SRC)/nginx
NGX_SRC_STAMP  = $(NGX_DEB_SRC)/.fetched-$(NGX_DEB_VER)
ASAN_DIR      := $(BUILD)/asan
FUZZ_DIR      := $(BUILD)/fuzz
SAN_LOGS      := $(ASAN_DIR)/sanitizer-logs

# NGX_DEBUG_PALLOC makes every pool allocation its own malloc() so that
# ASan sees overflows of pool memory.  The ODR indicator keeps the module's
# own "ngx_modules" array (every dynamic module has one) from being taken
# for nginx's: without it ASan reports a false overflow at each reload.
# UBSan stays recoverable so that fuzz/ubsan.supp can silence nginx core's
# own reports; halt_on_error makes every other one fatal.
SAN_FLAGS     := -fsanitize=address,undefined -fno-omit-frame-pointer \
                 -fsanitize-address-use-odr-indicator \
                 -DNGX_DEBUG_PALLOC=1 -DNGX_DEBUG_MALLOC=1 \
                 -O1 -g
SAN_LDFLAGS   := -fsanitize=address,undefined
NGX_SAN_CONF  := --with-compat --with-threads --with-debug \
                 --add-dynamic-module=$(CURDIR)
MODULE_C      := $(sort $(wildcard $(CURDIR)/ngx_iot_auth_*.c))

# nginx's own allocations live until exit (pools, cycle): leaks are not
# checked.  Every dynamic module defines its own "ngx_modules" (nginx finds
# it with dlsym()), which ASan calls an ODR violation: not checked either.
# Every other ASan/UBSan report fails the run.
ASAN_COMMON   := detect_leaks=0:detect_odr_violation=0:halt_on_error=1:abort_on_error=1
SAN_ENV        = ASAN_OPTIONS=$(ASAN_COMMON):log_path=$(SAN_LOGS)/san:log_exe_name=1 \
                 UBSAN_OPTIONS=$(UBSAN_COMMON):log_path=$(SAN_LOGS)/san:log_exe_name=1
FUZZ_ENV       = ASAN_OPTIONS=$(ASAN_COMMON) \
                 UBSAN_OPTIONS=$(UBSAN_COMMON)
UBSAN_COMMON  := print_stacktrace=1:halt_on_error=1:report_error_type=1:suppressions=$(CURDIR)/fuzz/ubsan.supp

.PHONY: deps-san test-asan fuzz asan-build asan-run fuzz-build fuzz-run \
        nginx-source FORCE

deps-san:
	@missing=$$(for p in $(SAN_DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

test-asan: deps-san
	@$(MAKE) --no-print-directory asan-run

fuzz: deps-san
	@$(MAKE) --no-print-directory fuzz-run

nginx-source: $(NGX_SRC_STAMP)

# Debian's nginx source package of the installed nginx-core version; if
# the archive cannot serve it (a superseded security update), the newest
# source of the same upstream version that it can serve, with a warning
$(NGX_SRC_STAMP):
	@set -e; \
	ver='$(NGX_DEB_VER)'; \
	[ -n "$$ver" ] || { echo "nginx-core is not installed"; exit 1; }; \
	if ! apt-cache showsrc nginx 2>/dev/null | grep -q '^Version:'; then \
	    if ! grep -Eqs '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
	            /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	            /etc/apt/sources.list.d/*.sources; then \
	        src=/etc/apt/sources.list.d/ngx-iot-auth-src.sources; \
	        echo "adding deb-src entries in $$src"; \
	        if [ -f /etc/apt/sources.list.d/debian.sources ]; then \
	            sed 's/^Types:.*/Types: deb-src/' \
	                /etc/apt/sources.list.d/debian.sources > $$src; \
	        else \
	            sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list \
	                > $${src%.sources}.list; \
	        fi; \
	    fi; \
	    apt-get update -q; \
	fi; \
	others=$$(apt-cache showsrc nginx | sed -n 's/^Version: //p' \
	          | grep -F "$${ver%%-*}-" | grep -vxF "$$ver" | sort -urV); \
	for v in $$ver $$others; do \
	    rm -rf $(NGX_DEB_SRC); mkdir -p $(NGX_DEB_SRC); \
	    if (cd $(NGX_DEB_SRC) && apt-get source -q "nginx=$$v"); then \
	        got=$$v; break; \
	    fi; \
	done; \
	[ -n "$$got" ] || { echo "cannot fetch the nginx source package"; exit 1; }; \
	[ "$$got" = "$$ver" ] || echo "warning: nginx source $$ver is not" \
	    "served by the archive, using $$got (same upstream version)"; \
	echo "$$got" > $(NGX_DEB_SRC)/VERSION; \
	cd $(NGX_DEB_SRC) && dir=$$(ls -d nginx-[0-9]*/ | head -1) \
	    && [ -x "$$dir/configure" ] && ln -sfn "$${dir%/}" nginx; \
	touch $@

# rebuild when the compiler or flags change (the file changes only then)
SAN_CONF_LINE  = $(SAN_CC) $(SAN_FLAGS) $(SAN_LDFLAGS) $(NGX_SAN_CONF)
$(ASAN_DIR)/.flags: FORCE
	@mkdir -p $(@D); echo '$(SAN_CONF_LINE)' | cmp -s - $@ \
	    || echo '$(SAN_CONF_LINE)' > $@

FORCE:

$(ASAN_DIR)/Makefile: $(NGX_SRC_STAMP) config $(ASAN_DIR)/.flags
	@mkdir -p $(ASAN_DIR)
	cd $(NGX_TREE) && ./configure --with-cc=$(SAN_CC) \
	    --with-cc-opt="$(SAN_FLAGS)" --with-ld-opt="$(SAN_LDFLAGS)" \
	    $(NGX_SAN_CONF) --builddir=$(ASAN_DIR)

asan-build: $(ASAN_DIR)/Makefile
	$(MAKE) -C $(NGX_TREE) -f $(ASAN_DIR)/Makefile -j$(shell nproc) \
	    binary modules

asan-run: asan-build $(PASSWD)
	@rm -rf $(SAN_LOGS); mkdir -p $(SAN_LOGS)
	$(SAN_ENV) PERL5LIB=$(CURDIR)/t/lib$(COMPAT) \
	    sh fuzz/asan-suite $(ASAN_DIR)/nginx $(ASAN_DIR)/$(MODULE).so \
	    $(SAN_LOGS) $(ASAN_PROVE)

# the fuzz binaries reuse nginx's objects of the ASan build (nginx.o with
# its main() renamed: libFuzzer has the main()); the module's files are
# compiled again with libFuzzer's coverage.  Each fuzz/<target>.c
# includes one module .c file (to reach its static functions) and is
# linked with the objects of the others.
FUZZ_CFLAGS    = $(SAN_FLAGS) -fsanitize=fuzzer-no-link \
                 -W -Wall -Wno-unused-parameter \
                 $(addprefix -I $(NGX_TREE)/src/,core event event/modules \
                     os/unix http http/modules) -I $(ASAN_DIR)
FUZZ_LIBS     := -lcrypt -lpcre2-8 -lz -lcrypto -lhiredis -lpthread -ldl
FUZZ_NGX_OBJS  = $(filter-out $(ASAN_DIR)/src/core/nginx.o, \
                     $(shell find $(ASAN_DIR)/src -name '*.o' 2>/dev/null)) \
                 $(ASAN_DIR)/ngx_modules.o $(FUZZ_DIR)/nginx-nomain.o
FUZZ_MOD_OBJS  = $(patsubst $(CURDIR)/%.c,$(FUZZ_DIR)/obj/%.o,$(MODULE_C))
FUZZ_BINS      = $(addprefix $(FUZZ_DIR)/bin/,$(FUZZ_TARGETS))

fuzz-build: asan-build
	@$(MAKE) --no-print-directory fuzz-bins

.PHONY: fuzz-bins
.SECONDARY: $(FUZZ_MOD_OBJS)
fuzz-bins: $(FUZZ_BINS)

$(FUZZ_DIR)/nginx-nomain.o: $(ASAN_DIR)/src/core/nginx.o
	@mkdir -p $(@D)
	objcopy --redefine-sym main=ngx_fuzz_nginx_main $< $@

$(FUZZ_DIR)/obj/%.o: $(CURDIR)/%.c $(wildcard $(CURDIR)/*.h) \
                     $(ASAN_DIR)/Makefile
	@mkdir -p $(@D)
	$(SAN_CC) -c $(FUZZ_CFLAGS) -o $@ $<

$(FUZZ_DIR)/bin/%: $(CURDIR)/fuzz/%.c $(CURDIR)/fuzz/fuzz_common.h \
                   $(FUZZ_DIR)/nginx-nomain.o $(FUZZ_MOD_OBJS) $(ASAN_DIR)/nginx
	@mkdir -p $(@D)
	@inc=$$(sed -n 's|^#include "\.\./\(ngx_iot_auth_[a-z_]*\)\.c".*|\1|p' $<); \
	objs=; for o in $(FUZZ_MOD_OBJS); do \
	    case $$o in */$$inc.o) ;; *) objs="$$objs $$o";; esac; done; \
	echo "fuzz: linking $(@F) (includes $$inc.c)"; \
	$(SAN_CC) $(FUZZ_CFLAGS) -Wno-unused-function -fsanitize=fuzzer \
	    -o $@ $< $$objs $(FUZZ_NGX_OBJS) $(FUZZ_LIBS)

# FUZZ_SECONDS=0 only replays the corpora
fuzz-run: fuzz-build
	@set -e; mkdir -p $(FUZZ_DIR)/artifacts; \
	limit=-max_total_time=$(FUZZ_SECONDS); \
	[ "$(FUZZ_SECONDS)" != 0 ] || limit=-runs=0; \
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	    dict=; [ ! -f fuzz/$$t.dict ] || dict=-dict=fuzz/$$t.dict; \
	    log=$(FUZZ_DIR)/$$t.log; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	    if ! $(FUZZ_ENV) $(FUZZ_DIR)/bin/$$t $$dict $$limit \
	            -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	            -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	            $(FUZZ_DIR)/corpus/$$t fuzz/corpus/$$t > $$log 2>&1; \
	    then \
	        tail -n 60 $$log; \
	        echo "fuzz: $$t FAILED (log $$log, reproduce with" \
	             "$(FUZZ_DIR)/bin/$$t $(FUZZ_DIR)/artifacts/$$t-*)"; \
	        exit 1; \
	    fi; \
	    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' \
	        $$log | tr -s ' \n' ' '; echo; \
	done; \
	echo "fuzz: no crash in" $(words $(FUZZ_TARGETS)) "targets"

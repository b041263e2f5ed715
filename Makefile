# ngx_iot_auth: build, demo, tests.
#
#   make                 build build/ngx_iot_auth_module.so (http{}),
#                        build/ngx_stream_iot_auth_module.so (stream{},
#                        MQTT) and the unit checks of the MQTT CONNECT
#                        parser
#   make run             demo gateway on 127.0.0.1:8080
#   make test            the Test::Nginx suite
#   make test-valgrind   the suite with nginx under valgrind memcheck
#   make bench           benchmarks, written to docs/benchmarks.md (~11 min)
#   make bench-check     check the benchmark's OpenResty peer (10 s)
#   make docs            render the diagrams of docs/design.md
#
# NGINX_SRC defaults to Debian's nginx-dev tree, configured with Debian's
# own flags so that the modules load into /usr/sbin/nginx.  Debian builds
# its stream module as a .so of its own (libnginx-mod-stream); nginx-dev's
# flags leave it out, so --with-stream is added, in the static form: the
# dynamic one would make "make modules" build nginx's own stream module,
# whose sources nginx-dev does not have.  The configuration header and the
# module signature are the same either way.  Any nginx source tree of the
# same version built --with-compat --with-threads --with-stream works too:
# make NGINX_SRC=/path/to/nginx-1.22.1

SHELL       := /bin/bash
NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
CC          ?= cc
BUILD       := $(CURDIR)/build
OBJS        := $(BUILD)/$(notdir $(CC))
MODULE      := ngx_iot_auth_module
SO          := $(BUILD)/$(MODULE).so
STREAM_MODULE := ngx_stream_iot_auth_module
STREAM_SO   := $(BUILD)/$(STREAM_MODULE).so
SOURCES     := $(wildcard $(CURDIR)/ngx_iot_auth_*.c $(CURDIR)/*.h) \
               $(CURDIR)/ngx_iot_auth.map
PASSWD      := $(BUILD)/iot-auth-passwd
PASSWD_SRC  := $(wildcard $(CURDIR)/tools/ngx_iot_auth_passwd*.c) \
               $(CURDIR)/ngx_iot_auth_record.c

DEBIAN_DEPS := nginx-core nginx-dev libnginx-mod-stream libcrypt-dev \
               libhiredis-dev libssl-dev \
               libtest-base-perl libtext-diff-perl libprotocol-http2-perl \
               apache2-utils whois redis-server redis-sentinel mosquitto \
               mosquitto-clients python3-paho-mqtt curl openssl gcc make

# the MQTT CONNECT parser's unit checks (t/unit/, run by t/110-mqtt-parser.t):
# the parser alone, built with nginx's headers as configured above and with
# the sanitizers, which catch any read past a packet
UNIT        := $(BUILD)/unit/mqtt_connect
UNIT_SRC    := $(CURDIR)/t/unit/mqtt_connect.c $(CURDIR)/ngx_iot_auth_mqtt.c
UNIT_CFLAGS  = -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror -g -O1 \
               -fsanitize=address,undefined -fno-sanitize-recover=all \
               $(addprefix -I $(NGINX_SRC)/src/,core event event/modules \
                   os/unix) -I $(OBJS)

# The stream module's tests (t/120-mqtt-stream*.t) load it themselves
# with TEST_NGINX_STREAM_MODULE, after nginx's stream module
# (t/lib/IotAuthStream.pm).
#
# t/lib first, then the caller's PERL5LIB (which may hold the real
# Test::Nginx, e.g. PERL5LIB=/path/to/test-nginx/lib make test), then
# t/compat, only when perl finds no Test::Nginx::Socket without it
TEST_ENV     = TEST_NGINX_BINARY=$(NGINX_BIN) TEST_NGINX_LOAD_MODULES=$(SO) \
               TEST_NGINX_STREAM_MODULE=$(STREAM_SO)
PROVE_ENV    = $(TEST_ENV) PERL5LIB=$(TEST_PERL5LIB)
TEST_PERL5LIB = $(CURDIR)/t/lib$(if $(PERL5LIB),:$(PERL5LIB))$(COMPAT)
COMPAT       = $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                       || echo :$(CURDIR)/t/compat)

# The suite runs a second time over HTTP/2 (h2c with prior knowledge):
# every block whose requests go through the access phase.  That pass
# always uses t/compat: the real Test::Nginx turns HTTP/2 on with
# "http2 on;", which nginx accepts only from 1.25.1 on; t/compat writes
# "listen ... http2" before.
H2_TESTS    ?= t
H2_ENV       = $(TEST_ENV) TEST_NGINX_USE_HTTP2=1 PERL5LIB=$(H2_PERL5LIB)
H2_PERL5LIB  = $(CURDIR)/t/lib:$(CURDIR)/t/compat$(if $(PERL5LIB),:$(PERL5LIB))

.PHONY: all deps run test test-valgrind clean bench bench-check bench-deps \
        docs

all: $(SO) $(STREAM_SO) $(PASSWD) $(UNIT)

$(OBJS)/Makefile: config
	@mkdir -p $(OBJS)
	cd $(NGINX_SRC) && \
	if [ -f conf_flags ]; then \
	    . ./conf_flags && ./configure --with-cc=$(CC) \
	        --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC \
	                       $$(dpkg-buildflags --get CPPFLAGS)" \
	        --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	        "$${NGX_CONF_FLAGS[@]}" --with-stream --with-stream_ssl_module \
	        --add-dynamic-module=$(CURDIR) --builddir=$(OBJS); \
	else \
	    conf=./configure; [ -x $$conf ] || conf=auto/configure; \
	    $$conf --with-cc=$(CC) --with-compat --with-threads --with-debug \
	        --with-stream $(NGINX_CONFIGURE_ARGS) \
	        --add-dynamic-module=$(CURDIR) --builddir=$(OBJS); \
	fi

# one "make modules" builds both
$(SO) $(STREAM_SO) &: $(OBJS)/Makefile $(SOURCES)
	$(MAKE) -C $(NGINX_SRC) -f $(OBJS)/Makefile modules
	install -m 755 $(OBJS)/$(MODULE).so $(SO)
	install -m 755 $(OBJS)/$(STREAM_MODULE).so $(STREAM_SO)

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

# $(call apt_install,PACKAGES): installs those of the Debian PACKAGES
# that are missing (nothing, not even apt-get update, when none is)
define apt_install
@missing=$$(for p in $(1); do \
    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
        | grep -q '^install ok installed' || echo $$p; done); \
if [ -n "$$missing" ]; then \
    echo "installing:" $$missing; \
    apt-get update -q && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
fi
endef

$(UNIT): $(UNIT_SRC) $(CURDIR)/ngx_iot_auth_mqtt.h $(OBJS)/Makefile
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -o $@ $(UNIT_SRC)

deps:
	$(call apt_install,$(DEBIAN_DEPS))

run: deps all
	SO=$(SO) NGINX_BIN=$(NGINX_BIN) ./demo/run

test: deps all
	$(PROVE_ENV) prove -r t
	@echo "again, over HTTP/2:"
	$(H2_ENV) prove -r $(H2_TESTS)

test-valgrind: deps all
	@command -v valgrind >/dev/null || \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind
	$(PROVE_ENV) TEST_NGINX_USE_VALGRIND=1 prove -r t

clean:
	rm -rf $(BUILD) t/servroot*


# ---------------------------------------------------------------------------
# Debian package (docs/packaging.md)
#
#   make deb         build/libnginx-mod-http-iot-auth_VERSION_ARCH.deb,
#                    built by debhelper and dh_nginx in build/deb
#   make deb-check   builds it, runs lintian, installs it, checks that the
#                    system nginx loads it (nginx -t only), purges it

DEB_DEPS    := build-essential debhelper dpkg-dev fakeroot lintian \
               nginx-core nginx-dev libcrypt-dev libhiredis-dev libssl-dev

.PHONY: deb deb-check

deb:
	@$(MAKE) --no-print-directory deps DEBIAN_DEPS='$(DEB_DEPS)'
	tools/deb-build

deb-check:
	@$(MAKE) --no-print-directory deps DEBIAN_DEPS='$(DEB_DEPS)'
	tools/deb-check


BENCH_DEPS  := wrk gnuplot-nox valgrind apache2-utils curl graphviz \
               python3 libnginx-mod-http-lua
DOT_SRC     := $(wildcard $(CURDIR)/docs/diagrams/*.dot)

bench-deps:
	$(call apt_install,$(BENCH_DEPS))

bench: deps all bench-deps
	SO=$(SO) STREAM_SO=$(STREAM_SO) NGINX_BIN=$(NGINX_BIN) ./bench/run

bench-check: deps bench-deps
	NGINX_BIN=$(NGINX_BIN) ./bench/check-openresty

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
                 --with-http_ssl_module --with-http_auth_request_module \
                 --with-stream --with-stream_ssl_module \
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
	$(call apt_install,$(SAN_DEPS))

test-asan: deps-san
	@$(MAKE) --no-print-directory asan-run

fuzz: deps-san
	@$(MAKE) --no-print-directory fuzz-run

nginx-source: $(NGX_SRC_STAMP)

# Debian's nginx source package of the installed nginx-core version
# (tools/fetch-nginx-source says how it is found)
$(NGX_SRC_STAMP):
	tools/fetch-nginx-source $(NGX_DEB_SRC) '$(NGX_DEB_VER)'
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

asan-run: asan-build $(PASSWD) $(UNIT)
	@rm -rf $(SAN_LOGS); mkdir -p $(SAN_LOGS)
	$(SAN_ENV) PERL5LIB=$(TEST_PERL5LIB) \
	    TEST_NGINX_STREAM_MODULE=$(ASAN_DIR)/$(STREAM_MODULE).so \
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
                     os/unix http http/modules stream) -I $(ASAN_DIR)
FUZZ_LIBS     := -lcrypt -lpcre2-8 -lz -lssl -lcrypto -lhiredis -lpthread \
                 -ldl
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

$(FUZZ_DIR)/bin/%: $(CURDIR)/fuzz/%.c $(wildcard $(CURDIR)/fuzz/*.h) \
                   $(CURDIR)/fuzz/fuzz_assert.h \
                   $(FUZZ_DIR)/nginx-nomain.o $(FUZZ_MOD_OBJS) $(ASAN_DIR)/nginx
	@mkdir -p $(@D)
	@inc=$$(sed -n 's|^#include "\.\./\(ngx_iot_auth_[a-z_]*\)\.c".*|\1|p' $<); \
	objs=; for o in $(FUZZ_MOD_OBJS); do \
	    case $$o in */$$inc.o) ;; *) objs="$$objs $$o";; esac; done; \
	echo "fuzz: linking $(@F) (includes $$inc.c)"; \
	$(SAN_CC) $(FUZZ_CFLAGS) -Wno-unused-function -fsanitize=fuzzer \
	    -o $@ $< $$objs $(FUZZ_NGX_OBJS) $(FUZZ_LIBS)

# the MQTT parser calls nothing of nginx: its target links it alone
$(FUZZ_DIR)/bin/fuzz_mqtt: $(CURDIR)/fuzz/fuzz_mqtt.c \
                           $(CURDIR)/fuzz/fuzz_assert.h \
                           $(CURDIR)/ngx_iot_auth_mqtt.c \
                           $(CURDIR)/ngx_iot_auth_mqtt.h $(ASAN_DIR)/Makefile
	@mkdir -p $(@D)
	$(SAN_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $<

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

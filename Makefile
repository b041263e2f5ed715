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

DEBIAN_DEPS := nginx-core nginx-dev libcrypt-dev libhiredis-dev libssl-dev \
               libtest-base-perl libtext-diff-perl apache2-utils whois \
               redis-server curl gcc make

PROVE_ENV    = TEST_NGINX_BINARY=$(NGINX_BIN) \
               TEST_NGINX_LOAD_MODULES=$(SO) \
               PERL5LIB=$(CURDIR)/t/lib$(COMPAT)
COMPAT       = $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                       || echo :$(CURDIR)/t/compat)

.PHONY: all deps run test test-valgrind clean bench bench-deps docs

all: $(SO)

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


BEGIN { $ENV{TEST_NGINX_USE_HUP} = 1 }

use lib 't/lib';
use Test::Nginx::Socket;
use IotAuthTest qw(p_defaults creds);

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
log_level('info');
check_accum_error_log();

# The blocks are one sequence over one zone that survives the reloads
# between them (TEST_NGINX_USE_HUP): each expects the verdicts and the
# counters the blocks before it left.  So none can be repeated, and with
# TEST_NGINX_REPEAT_EACH=2 (repeat_each) the file is skipped.

# Unless a block says otherwise: /p behind iot_auth, dev1 and dev2 in
# html/creds, and /status summarized (see IotAuthTest::p_defaults).
add_block_preprocessor(sub { p_defaults(shift, user_files => undef) });

if (repeat_each() > 1) {
    plan skip_all => 'each block reads the zone the blocks before it left';
} else {
    plan 'no_plan';
}

run_tests();

__DATA__

=== TEST 1: prime a verdict
--- user_files
>>> p
ok
>>> creds
dev1:$2y$04$5YYkbXcUn2rZHBTWckUOS.a7locA.amKsRJNg.uuV40KxHnZCBUNq
dev2:$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.
--- request eval
["GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), ""]
--- response_headers eval
["X-Result: MISS", "!X-Result"]
--- response_body eval
["ok\n", "miss 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: the verdict survives a reload
--- user_files
>>> p
ok
>>> creds
dev1:$2y$04$5YYkbXcUn2rZHBTWckUOS.a7locA.amKsRJNg.uuV40KxHnZCBUNq
dev2:$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.
--- request eval
["GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), ""]
--- response_headers eval
["X-Result: HIT", "!X-Result"]
--- response_body eval
["ok\n", "hit 1\nmiss 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: a changed hash costs one bcrypt for the old token
--- user_files
>>> p
ok
>>> creds
dev1:$2y$04$r5Su/FnaAubmNKc/WnCL7.YVq/ve/fwV7j61zVvTXS0B3qq4h4FzW
dev2:$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.
--- request eval
[("GET /p") x 4, "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), main::creds("dev1", "renewed1"),
 main::creds("dev1", "secret1"), main::creds("dev1", "renewed1"), ""]
--- error_code eval
[401, 200, 401, 200, 200]
--- response_headers eval
["X-Result: DENIED", "X-Result: MISS", "X-Result: NEGATIVE", "X-Result: HIT",
 "!X-Result"]
--- response_body eval
["401 Authorization Required\n", "ok\n", "401 Authorization Required\n",
 "ok\n",
 "hit 2\nmiss 2\nnegative 1\ndenied 1\nmatch 2\nmismatch 1\nentries 1\n"]
--- error_log
iot_auth: device "dev1" rejected: wrong token
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: a removed device is unknown
--- user_files
>>> p
ok
>>> creds
dev2:$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.
--- request eval
[("GET /p") x 3, "GET /status"]
--- more_headers eval
[main::creds("dev1", "renewed1"), main::creds("dev1", "renewed1"),
 main::creds("dev2", "secret2"), ""]
--- error_code eval
[401, 401, 200, 200]
--- response_headers eval
["X-Result: UNKNOWN", "X-Result: UNKNOWN", "X-Result: MISS", "!X-Result"]
--- response_body eval
["401 Authorization Required\n", "401 Authorization Required\n", "ok\n",
 "hit 2\nmiss 3\nnegative 1\ndenied 1\nunknown 2\nmatch 3\nmismatch 1\n"
 . "entries 2\n"]
--- error_log
iot_auth: device "dev1" rejected: unknown device
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: a new zone size starts a fresh zone
--- http_config
    iot_auth_zone zone=iot:2m;
--- user_files
>>> p
ok
>>> creds
dev2:$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.
--- request eval
["GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev2", "secret2"), ""]
--- response_headers eval
["X-Result: MISS", "!X-Result"]
--- response_body eval
["ok\n", "miss 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]

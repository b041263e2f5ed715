use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults creds);

repeat_each(1);
no_shuffle();
log_level('info');
check_accum_error_log();

# Unless a block says otherwise: /p behind iot_auth, dev1 and dev2 in
# html/creds, and /status summarized (see IotAuthTest::p_defaults).
add_block_preprocessor(sub { p_defaults(shift) });

run_tests();

__DATA__

=== TEST 1: one good token, 50 requests
--- request eval
[("GET /p") x 50, "GET /status"]
--- more_headers eval
[(main::creds("dev1", "secret1")) x 50, ""]
--- response_headers eval
["X-Result: MISS", ("X-Result: HIT") x 49, "!X-Result"]
--- response_body eval
[("ok\n") x 50, "hit 49\nmiss 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: one bad token, 20 requests
--- request eval
[("GET /p") x 20, "GET /status"]
--- more_headers eval
[(main::creds("dev1", "secret2")) x 20, ""]
--- error_code eval
[(401) x 20, 200]
--- response_headers eval
["X-Result: DENIED", ("X-Result: NEGATIVE") x 19, "!X-Result"]
--- response_body eval
[("401 Authorization Required\n") x 20,
 "negative 19\ndenied 1\nmismatch 1\nentries 1\n"]
--- error_log
iot_auth: device "dev1" rejected: wrong token
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: a recent bad token is logged
--- init
IotAuthTest::herd([{ uri => '/p', headers => { 'X-Device-Id' => 'dev1',
                                               'X-Device-Token' => 'bad' } }]);
--- request
GET /p
--- more_headers
X-Device-Id: dev1
X-Device-Token: bad
--- error_code: 401
--- response_headers
X-Result: NEGATIVE
--- error_log
iot_auth: device "dev1" rejected: wrong token
iot_auth: device "dev1" rejected: token failed recently
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: unknown device
--- request eval
["GET /p", "GET /p", "GET /status"]
--- more_headers eval
[main::creds("ghost", "secret1"), main::creds("ghost", "secret1"), ""]
--- error_code eval
[401, 401, 200]
--- response_headers eval
["X-Result: UNKNOWN", "X-Result: UNKNOWN", "!X-Result"]
--- response_body eval
["401 Authorization Required\n", "401 Authorization Required\n",
 "unknown 2\nentries 1\n"]
--- error_log
iot_auth: device "ghost" rejected: unknown device
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: two different wrong tokens
--- request eval
[("GET /p") x 5, "GET /status"]
--- more_headers eval
[main::creds("dev1", "bad1"), main::creds("dev1", "bad2"),
 main::creds("dev1", "bad1"), main::creds("dev1", "bad2"),
 main::creds("dev1", "bad1"), ""]
--- error_code eval
[(401) x 5, 200]
--- response_headers eval
["X-Result: DENIED", "X-Result: DENIED", "X-Result: NEGATIVE",
 "X-Result: NEGATIVE", "X-Result: NEGATIVE", "!X-Result"]
--- response_body eval
[("401 Authorization Required\n") x 5,
 "negative 3\ndenied 2\nmismatch 2\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: good and bad token of one device
--- request eval
[("GET /p") x 6, "GET /status"]
--- more_headers eval
[main::creds("dev1", "bad1"), main::creds("dev1", "secret1"),
 main::creds("dev1", "bad1"), main::creds("dev1", "secret1"),
 main::creds("dev1", "bad1"), main::creds("dev1", "secret1"), ""]
--- error_code eval
[401, 200, 401, 200, 401, 200, 200]
--- response_headers eval
["X-Result: DENIED", "X-Result: MISS", "X-Result: NEGATIVE",
 "X-Result: HIT", "X-Result: NEGATIVE", "X-Result: HIT", "!X-Result"]
--- response_body eval
["401 Authorization Required\n", "ok\n", "401 Authorization Required\n",
 "ok\n", "401 Authorization Required\n", "ok\n",
 "hit 2\nmiss 1\nnegative 2\ndenied 1\nmatch 1\nmismatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: a token of another device
--- request eval
[("GET /p") x 5, "GET /status"]
--- more_headers eval
[main::creds("dev2", "secret1"), main::creds("dev1", "secret1"),
 main::creds("dev2", "secret2"), main::creds("dev1", "secret1"),
 main::creds("dev2", "secret2"), ""]
--- error_code eval
[401, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Result: DENIED", "X-Result: MISS", "X-Result: MISS", "X-Result: HIT",
 "X-Result: HIT", "!X-Result"]
--- response_body eval
["401 Authorization Required\n", "ok\n", "ok\n", "ok\n", "ok\n",
 "hit 2\nmiss 2\ndenied 1\nmatch 2\nmismatch 1\nentries 2\n"]
--- error_log
iot_auth: device "dev2" rejected: wrong token
--- no_error_log
[error]
[alert]
[crit]

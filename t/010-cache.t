use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults replies);

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
log_level('info');
check_accum_error_log();

# Unless a block says otherwise: /p behind iot_auth, dev1 and dev2 in
# html/creds, and /status summarized (see IotAuthTest::p_defaults).
# The blocks make their requests for /p in --- init (IotAuthTest::replies
# writes one line per answer to html/init.txt), so that with
# TEST_NGINX_REPEAT_EACH=2 every repetition sees the same zone.
add_block_preprocessor(sub { p_defaults(shift) });

run_tests();

__DATA__

=== TEST 1: one good token, 50 requests
--- init
main::replies((['dev1', 'secret1']) x 50);
--- request eval
["GET /init.txt", "GET /status"]
--- response_headers eval
["!X-Result", "!X-Result"]
--- response_body eval
["200 MISS ok\n" . "200 HIT ok\n" x 49,
 "hit 49\nmiss 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: one bad token, 20 requests
--- init
main::replies((['dev1', 'secret2']) x 20);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["401 DENIED 401 Authorization Required\n"
 . "401 NEGATIVE 401 Authorization Required\n" x 19,
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
--- init
main::replies(['ghost', 'secret1'], ['ghost', 'secret1']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["401 UNKNOWN 401 Authorization Required\n" x 2, "unknown 2\nentries 1\n"]
--- error_log
iot_auth: device "ghost" rejected: unknown device
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: two different wrong tokens
--- init
main::replies(['dev1', 'bad1'], ['dev1', 'bad2'], ['dev1', 'bad1'],
              ['dev1', 'bad2'], ['dev1', 'bad1']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["401 DENIED 401 Authorization Required\n" x 2
 . "401 NEGATIVE 401 Authorization Required\n" x 3,
 "negative 3\ndenied 2\nmismatch 2\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: good and bad token of one device
--- init
main::replies(['dev1', 'bad1'], ['dev1', 'secret1'], ['dev1', 'bad1'],
              ['dev1', 'secret1'], ['dev1', 'bad1'], ['dev1', 'secret1']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["401 DENIED 401 Authorization Required\n200 MISS ok\n"
 . "401 NEGATIVE 401 Authorization Required\n200 HIT ok\n"
 . "401 NEGATIVE 401 Authorization Required\n200 HIT ok\n",
 "hit 2\nmiss 1\nnegative 2\ndenied 1\nmatch 1\nmismatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: a token of another device
--- init
main::replies(['dev2', 'secret1'], ['dev1', 'secret1'], ['dev2', 'secret2'],
              ['dev1', 'secret1'], ['dev2', 'secret2']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["401 DENIED 401 Authorization Required\n200 MISS ok\n200 MISS ok\n"
 . "200 HIT ok\n200 HIT ok\n",
 "hit 2\nmiss 2\ndenied 1\nmatch 2\nmismatch 1\nentries 2\n"]
--- error_log
iot_auth: device "dev2" rejected: wrong token
--- no_error_log
[error]
[alert]
[crit]

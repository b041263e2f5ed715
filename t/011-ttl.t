use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults replies);

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
log_level('info');
check_accum_error_log();

# Unless a block says otherwise: /p behind iot_auth, dev1 and dev2 in
# html/creds, and /status summarized (see IotAuthTest::p_defaults).
# The blocks make their requests for /p, and wait, in --- init
# (IotAuthTest::replies writes one line per answer to html/init.txt), so
# that with TEST_NGINX_REPEAT_EACH=2 every repetition sees the same zone.
add_block_preprocessor(sub { p_defaults(shift) });

run_tests();

__DATA__

=== TEST 1: expired verdict, same hash
--- http_config
    iot_auth_zone zone=iot:1m ttl=1s;
--- init
main::replies(['dev1', 'secret1'], 1.3, ['dev1', 'secret1'],
              ['dev1', 'secret1']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["200 MISS ok\n200 REVALIDATED ok\n200 HIT ok\n",
 "hit 1\nrevalidated 1\nmiss 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: refresh after half the ttl
--- http_config
    iot_auth_zone zone=iot:1m ttl=2s refresh=50%;
--- init
main::replies(['dev1', 'secret1'], 0.4, ['dev1', 'secret1'], 0.9,
              ['dev1', 'secret1'], ['dev1', 'secret1']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["200 MISS ok\n200 HIT ok\n200 REFRESH ok\n200 HIT ok\n",
 "hit 2\nmiss 1\nrefresh 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: refresh=100% never refreshes
--- http_config
    iot_auth_zone zone=iot:1m ttl=2s refresh=100%;
--- init
main::replies(['dev1', 'secret1'], 1.7, ['dev1', 'secret1']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["200 MISS ok\n200 HIT ok\n", "hit 1\nmiss 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: bad token after negative_ttl
--- http_config
    iot_auth_zone zone=iot:1m ttl=30s negative_ttl=1s;
--- init
main::replies(['dev1', 'bad'], ['dev1', 'bad'], 1.3, ['dev1', 'bad'],
              ['dev1', 'bad']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["401 DENIED 401 Authorization Required\n"
 . "401 NEGATIVE 401 Authorization Required\n"
 . "401 DENIED 401 Authorization Required\n"
 . "401 NEGATIVE 401 Authorization Required\n",
 "negative 2\ndenied 2\nmismatch 2\nentries 1\n"]
--- error_log
iot_auth: device "dev1" rejected: wrong token
iot_auth: device "dev1" rejected: token failed recently
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: negative_ttl=0 caches no bad token
--- http_config
    iot_auth_zone zone=iot:1m negative_ttl=0;
--- init
main::replies((['dev1', 'bad']) x 3);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["401 DENIED 401 Authorization Required\n" x 3,
 "denied 3\nmismatch 3\nentries 1\n"]
--- error_log
iot_auth: device "dev1" rejected: wrong token
--- no_error_log
[error]
[alert]
[crit]

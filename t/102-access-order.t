use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults creds);

# Where iot_auth runs among nginx's access checks: after allow/deny and
# auth_request, so that a refused address costs no bcrypt, and "satisfy"
# combines them as it does auth_basic.  Test::Nginx's requests come from
# 127.0.0.1.

repeat_each(1);
no_shuffle();
log_level('info');
check_accum_error_log();

# Unless a block says otherwise: /p behind iot_auth, dev1 (secret1) and
# dev2 (secret2) in html/creds, and /status summarized (non-zero numbers
# only: an empty body means nothing was counted).
add_block_preprocessor(sub { p_defaults(shift) });

run_tests();

__DATA__

=== TEST 1: satisfy all: a denied address is refused before any bcrypt
--- config eval
IotAuthTest::p_config(more => "deny 127.0.0.1;")
--- request eval
["GET /p", "GET /p", "GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), main::creds("dev1", "wrong"), "", ""]
--- error_code eval
[403, 403, 403, 200]
--- response_headers eval
["!X-Result", "!X-Result", "!X-Result", "!X-Result"]
--- response_body eval
["403 Forbidden\n", "403 Forbidden\n", "403 Forbidden\n", ""]
--- error_log
access forbidden by rule
--- no_error_log
iot_auth:
[crit]
[alert]



=== TEST 2: satisfy all: an allowed address still needs the device check
--- config eval
IotAuthTest::p_config(more => "allow 127.0.0.1;\ndeny all;")
--- request eval
["GET /p", "GET /p", "GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), main::creds("dev1", "wrong"), "", ""]
--- error_code eval
[200, 401, 401, 200]
--- response_headers eval
["X-Result: MISS", "X-Result: DENIED", "X-Result: DENIED", "!X-Result"]
--- response_body eval
["ok\n", "401 Authorization Required\n", "401 Authorization Required\n",
 "miss 1\ndenied 2\nmatch 1\nmismatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]



=== TEST 3: satisfy all: auth_request refuses before any bcrypt
--- config eval
IotAuthTest::p_config(more => "auth_request /gate;")
. <<'_EOC_'
    location = /gate {
        return 403;
    }
_EOC_
--- request eval
["GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), ""]
--- error_code eval
[403, 200]
--- response_body eval
["403 Forbidden\n", ""]
--- no_error_log
iot_auth:
[error]
[alert]



=== TEST 4: satisfy any: an allowed address is enough, no device is asked
--- config eval
IotAuthTest::p_config(more => "satisfy any;\nallow 127.0.0.1;\ndeny all;")
--- request eval
["GET /p", "GET /p", "GET /p", "GET /status"]
--- more_headers eval
["", main::creds("dev1", "wrong"), main::creds("dev1", "secret1"), ""]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["!X-Result", "!X-Result", "!X-Result", "!X-Result"]
--- response_body eval
["ok\n", "ok\n", "ok\n", ""]
--- no_error_log
iot_auth:
[error]
[alert]



=== TEST 5: satisfy any: from a denied address the device credentials decide
--- config eval
IotAuthTest::p_config(more => "satisfy any;\nallow 10.0.0.0/8;\ndeny all;")
--- request eval
["GET /p", "GET /p", "GET /p", "GET /p", "GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "wrong"), main::creds("dev1", "secret1"),
 main::creds("dev1", "secret1"), "", main::creds("dev1", "bad token"), ""]
--- error_code eval
[401, 200, 200, 401, 400, 200]
--- response_headers eval
["X-Result: DENIED", "X-Result: MISS", "X-Result: HIT", "X-Result: DENIED",
 "X-Result: DENIED", "!X-Result"]
--- response_body eval
["401 Authorization Required\n", "ok\n", "ok\n",
 "401 Authorization Required\n", "400 Bad Request\n",
 "hit 1\nmiss 1\ndenied 3\nmatch 1\nmismatch 1\nentries 1\n"]
--- error_log
iot_auth: device "dev1" rejected: wrong token
--- no_error_log
[error]
[alert]



=== TEST 6: satisfy any: a refused device is not let in by auth_request
--- config eval
IotAuthTest::p_config(more => "satisfy any;\nauth_request /gate;")
. <<'_EOC_'
    location = /gate {
        return 403;
    }
_EOC_
--- request eval
["GET /p", "GET /p"]
--- more_headers eval
[main::creds("dev1", "secret1"), main::creds("dev1", "wrong")]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Result: MISS", "X-Result: DENIED"]
--- response_body eval
["ok\n", "401 Authorization Required\n"]
--- no_error_log
[error]
[alert]

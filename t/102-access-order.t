use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults creds);
use IotAuthRedis qw(free_port);
use MIME::Base64 ();

# Where iot_auth runs among nginx's access checks: after allow/deny and
# auth_request, so that a refused address costs no bcrypt, and "satisfy"
# combines them as it does auth_basic; and after limit_req, which is why
# a per-device limit needs a second location.  Test::Nginx's requests
# come from 127.0.0.1.

repeat_each(1);
no_shuffle();
log_level('info');
check_accum_error_log();

# Unless a block says otherwise: /p behind iot_auth, dev1 (secret1) and
# dev2 (secret2) in html/creds, and /status summarized (non-zero numbers
# only: an empty body means nothing was counted).
add_block_preprocessor(sub { p_defaults(shift) });

$ENV{TEST_NGINX_BACKEND_PORT} = free_port();

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



=== TEST 7: limit_req keyed on $iot_auth_device limits nothing
--- http_config
    iot_auth_zone zone=iot:1m;
    limit_req_zone $iot_auth_device zone=per_device:1m rate=1r/m;
--- config eval
IotAuthTest::p_config(more => "limit_req zone=per_device;")
--- request eval
["GET /p", "GET /p", "GET /p"]
--- more_headers eval
[(main::creds("dev1", "secret1")) x 3]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-Result: MISS", "X-Result: HIT", "X-Result: HIT"]
--- no_error_log
limiting requests
[error]
[alert]



=== TEST 8: limit_req keyed on the id the client claims, before the check
--- http_config
    iot_auth_zone zone=iot:1m;

    map $http_x_device_id $device_claimed {
        ""       $remote_user;
        default  $http_x_device_id;
    }

    limit_req_zone $device_claimed zone=per_claim:1m rate=1r/m;
--- config eval
IotAuthTest::p_config(more => "limit_req zone=per_claim;\n"
                              . "iot_auth_basic fleet;")
--- request eval
["GET /p", "GET /p", "GET /p", "GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "wrong"), main::creds("dev1", "secret1"),
 main::creds("dev2", "secret2"),
 "Authorization: Basic " . MIME::Base64::encode_base64("dev2:secret2", ""),
 ""]
--- error_code eval
[401, 503, 200, 503, 200]
--- response_headers eval
["X-Result: DENIED", "!X-Result", "X-Result: MISS", "!X-Result", ""]
--- response_body eval
["401 Authorization Required\n", "503 Service Temporarily Unavailable\n",
 "ok\n", "503 Service Temporarily Unavailable\n",
 "miss 1\ndenied 1\nmatch 1\nmismatch 1\nentries 2\n"]
--- no_error_log
[alert]
[crit]



=== TEST 9: limit_req keyed on $iot_auth_device, after the check
--- http_config
    iot_auth_zone zone=iot:1m;
    limit_req_zone $iot_auth_device zone=per_device:1m rate=1r/m;

    server {
        listen 127.0.0.1:$TEST_NGINX_BACKEND_PORT;
        return 200 "ok\n";
    }
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;

        # never a file: every checked request goes on to @device
        try_files /.iot-auth-checked @device;
    }

    location @device {
        limit_req zone=per_device;
        add_header X-Result $iot_auth_result always;
        add_header X-Device $iot_auth_device always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT;
    }

    location = /status {
        iot_auth_status;
    }
--- request eval
["GET /p", "GET /p", "GET /p", "GET /p", "GET /p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "wrong"), main::creds("dev1", "secret1"),
 main::creds("dev1", "secret1"), main::creds("dev2", "secret2"),
 main::creds("dev2", "wrong"), ""]
--- error_code eval
[401, 200, 503, 200, 401, 200]
--- response_headers eval
["", "X-Result: MISS\nX-Device: dev1", "X-Result: HIT\nX-Device: dev1",
 "X-Result: MISS\nX-Device: dev2", "", ""]
--- response_body eval
["401 Authorization Required\n", "ok\n",
 "503 Service Temporarily Unavailable\n", "ok\n",
 "401 Authorization Required\n",
 "hit 1\nmiss 2\ndenied 2\nmatch 2\nmismatch 2\nentries 2\n"]
--- no_error_log
[alert]
[crit]

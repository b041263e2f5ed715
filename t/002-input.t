use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(block_defaults);

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
log_level('info');

our $T72 = ('T' x 36) . ('0123456789' x 3) . 'abcdef';

# With TEST_NGINX_REPEAT_EACH=2 (repeat_each) the blocks with a
# "--- no_repeat" section are skipped: TEST 7, 15, 16 and 22 assert what a
# fresh zone answers to the requests of their request sections (MISS,
# DENIED then NEGATIVE), which a second round in the same nginx would not
# see; TEST 18 and 20 expect log lines that their --- init writes, and
# --- init runs once per block while this file checks each round's own
# log lines.

# Unless a block says otherwise: the pool, a zone "iot", two devices
# (dev1/secret1 with perms 3, long/$T72) and /t protected in front of
# /backend (see IotAuthTest::block_defaults).
add_block_preprocessor(sub {
    block_defaults(shift,
        user_files => <<'_EOC_',
>>> creds
dev1:$2y$04$jFF2G2caxZRZzgKWBC.B5erAdPEVvfx9HCrC7KG9pHFhw8UirH/Tm:0x3
long:$2y$04$evVeXpv.UDdoWC871OiO.ek0wK650l1ynV8feJP5uFfgKk17Br/0C
_EOC_
        config => <<'_EOC_',
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        add_header X-Device $iot_auth_device always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
_EOC_
    );
});

run_tests();

__DATA__

=== TEST 1: no device id and no token
--- request
GET /t
--- error_code: 401
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: no device id or token,/
--- no_error_log
[error]
[alert]



=== TEST 2: empty device id
--- request
GET /t
--- more_headers eval
"X-Device-Id: \nX-Device-Token: secret1\n"
--- error_code: 401
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: no device id or token,/
--- no_error_log
[error]



=== TEST 3: empty token
--- request
GET /t
--- more_headers eval
"X-Device-Id: dev1\nX-Device-Token: \n"
--- error_code: 401
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: no device id or token,/
--- no_error_log
[error]



=== TEST 4: token without a device id
--- request
GET /t
--- more_headers
X-Device-Token: secret1
--- error_code: 401
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: no device id or token,/



=== TEST 5: device id of 128 bytes is checked (unknown device)
--- request
GET /t
--- more_headers eval
"X-Device-Id: " . ("d" x 128) . "\nX-Device-Token: secret1\n"
--- error_code: 401
--- response_headers eval
"X-Result: UNKNOWN\nX-Device: " . ("d" x 128)
--- error_log eval
qr/\[info\] .* iot_auth: device "d{128}" rejected: unknown device,/
--- no_error_log
[error]
malformed



=== TEST 6: device id of 129 bytes is malformed
--- request
GET /t
--- more_headers eval
"X-Device-Id: " . ("d" x 129) . "\nX-Device-Token: secret1\n"
--- error_code: 400
--- response_headers
X-Result: DENIED
!X-Device
--- error_log eval
qr/\[info\] .* iot_auth: malformed device id of 129 bytes,/
--- no_error_log
[error]
unknown device



=== TEST 7: token of 72 bytes is checked
--- no_repeat: its request verifies a token in a fresh zone
--- request
GET /t
--- more_headers eval
"X-Device-Id: long\nX-Device-Token: $::T72\n"
--- response_headers
X-Result: MISS
--- response_body
ok
--- no_error_log
[error]
malformed



=== TEST 8: token of 73 bytes is malformed, though bcrypt would match its first 72
--- request
GET /t
--- more_headers eval
"X-Device-Id: long\nX-Device-Token: ${main::T72}x\n"
--- error_code: 400
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: device "long" sent a malformed token of 73 bytes,/
--- no_error_log
[error]



=== TEST 9: token with a tab
--- request
GET /t
--- more_headers eval
"X-Device-Id: dev1\nX-Device-Token: sec\tret1\n"
--- error_code: 400
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: device "dev1" sent a malformed token of 8 bytes,/
--- no_error_log
[error]



=== TEST 10: token with a space
--- request
GET /t
--- more_headers eval
"X-Device-Id: dev1\nX-Device-Token: sec ret1\n"
--- error_code: 400
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: device "dev1" sent a malformed token of 8 bytes,/



=== TEST 11: token with 0x7f
--- request
GET /t
--- more_headers eval
"X-Device-Id: dev1\nX-Device-Token: secret1\x7f\n"
--- error_code: 400
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: device "dev1" sent a malformed token of 8 bytes,/
--- no_error_log
[error]



=== TEST 12: token with a UTF-8 character
--- request
GET /t
--- more_headers eval
"X-Device-Id: dev1\nX-Device-Token: s\xc3\xa9cret1\n"
--- error_code: 400
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: device "dev1" sent a malformed token of 8 bytes,/
--- no_error_log
[error]



=== TEST 13: device id with bytes of 0x80 and above
--- request
GET /t
--- more_headers eval
"X-Device-Id: d\xc3\xa9v1\nX-Device-Token: secret1\n"
--- error_code: 400
--- response_headers
X-Result: DENIED
!X-Device
--- error_log eval
qr/\[info\] .* iot_auth: malformed device id of 5 bytes,/
--- no_error_log
[error]



=== TEST 14: device id with a space
--- request
GET /t
--- more_headers eval
"X-Device-Id: dev 1\nX-Device-Token: secret1\n"
--- error_code: 400
--- response_headers
X-Result: DENIED
--- error_log eval
qr/\[info\] .* iot_auth: malformed device id of 5 bytes,/



=== TEST 15: device id from $arg_dev and token from $cookie_tok
--- no_repeat: its requests verify tokens in a fresh zone
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_device $arg_dev;
        iot_auth_token $cookie_tok;
        add_header X-Result $iot_auth_result always;
        add_header X-Device $iot_auth_device always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- request eval
["GET /t?dev=dev1", "GET /t?dev=dev1", "GET /t", "GET /t?dev=dev1"]
--- more_headers eval
["Cookie: a=b; tok=secret1",
 "Cookie: tok=secret2",
 "X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: secret1"]
--- error_code eval
[200, 401, 401, 401]
--- response_headers eval
["X-Result: MISS\nX-Device: dev1",
 "X-Result: DENIED\nX-Device: dev1",
 "X-Result: DENIED",
 "X-Result: DENIED"]
--- no_error_log
[error]
[alert]



=== TEST 15a: headers named by $http_ variables in any case, read as nginx reads them
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_device $HTTP_X_VIN;
        iot_auth_token ${http_X_Secret};
        add_header X-Result $iot_auth_result always;
        add_header X-Device $iot_auth_device always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "ok\n";
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
["X-Vin: dev1\nX-Secret: secret1",
 "x-vin: dev1\nx-secret: secret1",
 "X-Vin: dev1\nX-Device-Token: secret1",
 "X-Vin: dev1\nX-Secret: secret1\nX-SECRET: secret1",
 "X-Vin: dev1\nX-Vin: long\nX-Secret: secret1"]
--- error_code eval
[200, 200, 401, 400, 400]
--- response_headers eval
["X-Result: MISS\nX-Device: dev1",
 "X-Result: HIT\nX-Device: dev1",
 "X-Result: DENIED",
 "X-Result: DENIED",
 "X-Result: DENIED"]
--- no_error_log
[error]
[alert]



=== TEST 16: rejected requests never reach the upstream
--- no_repeat: its requests verify tokens in a fresh zone
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["",
 "X-Device-Id: dev1\nX-Device-Token: wrongtoken",
 "X-Device-Id: dev1\nX-Device-Token: wrongtoken",
 "X-Device-Id: nobody\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: secret1 1"]
--- error_code eval
[401, 401, 401, 401, 400]
--- response_headers eval
["X-Result: DENIED", "X-Result: DENIED", "X-Result: NEGATIVE",
 "X-Result: UNKNOWN", "X-Result: DENIED"]
--- no_access_log
GET /backend
--- no_error_log
[error]
[alert]



=== TEST 17: an allowed request reaches the upstream
--- request
GET /t
--- more_headers
X-Device-Id: dev1
X-Device-Token: secret1
--- response_body
ok
--- access_log
"GET /backend HTTP/1.0" 200
--- no_error_log
[error]



=== TEST 18: wrong token, then the same wrong token again
--- no_repeat: the wrong-token line it expects is logged by --- init
--- init
use IotAuthTest qw(herd);
herd([{ uri => '/t', headers => { 'X-Device-Id' => 'dev1',
                                  'X-Device-Token' => 'wrongtoken' } }]);
--- request
GET /t
--- more_headers
X-Device-Id: dev1
X-Device-Token: wrongtoken
--- error_code: 401
--- response_headers
X-Result: NEGATIVE
--- error_log eval
[qr/\[info\] .* iot_auth: device "dev1" rejected: wrong token,/,
 qr/\[info\] .* iot_auth: device "dev1" rejected: token failed recently,/]
--- no_error_log
[error]



=== TEST 19: device lacking the required perms
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 0x4;
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- request
GET /t
--- more_headers
X-Device-Id: dev1
X-Device-Token: secret1
--- error_code: 403
--- response_headers
X-Result: FORBIDDEN
--- error_log eval
qr/\[info\] .* iot_auth: device "dev1" rejected: lacks the required perms,/
--- no_error_log
[error]



=== TEST 20: a new bcrypt past iot_auth_max_pending is refused at warn
--- no_repeat: the warn line it expects is logged by --- init
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/slow;
        iot_auth_max_pending 1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files
>>> slow
slow1:$2y$12$vMju4HzNbCqH2ryEeRl4VuSUVGNxgzmaHt5I63q3T7Bd7/gwDgz4u
slow2:$2y$12$tuhY6iz0k1OALQQ8QnJdHOj3A2F9b/KCsBnLi2a3T8apjhT4dUs92
--- init
use IotAuthTest qw(herd write_html);
my @res = herd([
    { uri => '/t', headers => { 'X-Device-Id' => 'slow1',
                                'X-Device-Token' => 'slowtoken1' } },
    { uri => '/t', headers => { 'X-Device-Id' => 'slow2',
                                'X-Device-Token' => 'slowtoken2' } },
]);
write_html('herd.txt', join(' ', sort map { $_->{status} } @res) . "\n");
--- request
GET /herd.txt
--- response_body
200 503
--- error_log eval
qr/\[warn\] .* iot_auth: device "slow[12]" rejected: too many verifications pending,/
--- no_error_log
[error]



=== TEST 21: tokens and hashes never reach the log at info
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: wrongtoken",
 "X-Device-Id: dev1\nX-Device-Token: wrongtoken",
 "X-Device-Id: long\nX-Device-Token: ${main::T72}x"]
--- error_code eval
[200, 200, 401, 401, 400]
--- no_error_log eval
["secret1", "wrongtoken", $::T72, '$2y$04$', "jFF2G2caxZRZzgKWBC"]



=== TEST 22: tokens and hashes never reach the log at debug
--- no_repeat: its requests verify tokens in a fresh zone
--- log_level: debug
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_token "secret1";
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /w {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_token "WrongButVisible";
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- request eval
["GET /t", "GET /t", "GET /w", "GET /w", "GET /t"]
--- more_headers eval
["X-Device-Id: dev1", "X-Device-Id: dev1", "X-Device-Id: dev1",
 "X-Device-Id: dev1", "X-Device-Id: nobody"]
--- error_code eval
[200, 200, 401, 401, 401]
--- response_headers eval
["X-Result: MISS", "X-Result: HIT", "X-Result: DENIED", "X-Result: NEGATIVE",
 "X-Result: UNKNOWN"]
--- no_error_log eval
["secret1", "WrongButVisible", '$2y$04$', "jFF2G2caxZRZzgKWBC"]

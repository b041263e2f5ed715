use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(block_defaults);

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();

our $Good = "X-Device-Id: dev1\nX-Device-Token: secret1";
our $Bad = "X-Device-Id: dev1\nX-Device-Token: wrongtoken";
our $Ghost = "X-Device-Id: ghost\nX-Device-Token: secret1";

# With TEST_NGINX_REPEAT_EACH=2 (repeat_each) the blocks with a
# "--- no_repeat" section are skipped: TEST 1, 2, 6, 7, 9, 10, 11, 12 and
# 14 assert the results (MISS, DENIED) and the exact counters that the
# requests of their request sections leave in a fresh zone; a second
# round in the same nginx would find the verdicts of the first and count
# on top of it.

# bcrypt time varies: a positive value with six decimals becomes "S".
sub mask_seconds {
    my $body = shift;

    $body =~ s/^(iot_auth_bcrypt_seconds_total\S+) 0\.(?!0{6})\d{6}$/$1 S/mg;
    $body =~ s/("seconds":)0\.(?!0{6})\d{6}([,}])/$1S$2/g;

    return $body;
}

# Unless a block says otherwise: the pool, a zone "iot", devices dev1
# (secret1, perms 3) and dev2 (secret2, perms 1), /t protected in front of
# /backend, and the status page at /status.
add_block_preprocessor(sub {
    block_defaults(shift,
        user_files => <<'_EOC_',
>>> creds
dev1:$2y$04$jFF2G2caxZRZzgKWBC.B5erAdPEVvfx9HCrC7KG9pHFhw8UirH/Tm:0x3
dev2:$2y$04$rtr7QHMs2OgTxUKqAKmJ4uK3dCN1HThRWn4cm9CjaJzA.j5.QLU/O:1
_EOC_
        config => <<'_EOC_',
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /status {
        iot_auth_status;
    }
    location = /json {
        iot_auth_status json;
    }
_EOC_
    );
});

run_tests();

__DATA__

=== TEST 1: prometheus after MISS, 3 HIT, DENIED, NEGATIVE, UNKNOWN
--- no_repeat: its requests verify tokens in a fresh zone
--- request eval
[("GET /t") x 7, "GET /status"]
--- more_headers eval
[($::Good) x 4, $::Bad, $::Bad, $::Ghost, ""]
--- error_code eval
[200, 200, 200, 200, 401, 401, 401, 200]
--- response_headers eval
["X-Result: MISS", "X-Result: HIT", "X-Result: HIT", "X-Result: HIT",
 "X-Result: DENIED", "X-Result: NEGATIVE", "X-Result: UNKNOWN",
 "Content-Type: text/plain; version=0.0.4"]
--- response_body_filters eval
\&::mask_seconds
--- response_body eval
[("ok\n") x 4, (qr/401 Authorization Required/) x 3,
<<'_EOC_']
# HELP iot_auth_requests_total Requests checked, by result.
# TYPE iot_auth_requests_total counter
iot_auth_requests_total{zone="iot",result="hit"} 3
iot_auth_requests_total{zone="iot",result="revalidated"} 0
iot_auth_requests_total{zone="iot",result="miss"} 1
iot_auth_requests_total{zone="iot",result="wait"} 0
iot_auth_requests_total{zone="iot",result="refresh"} 0
iot_auth_requests_total{zone="iot",result="stale"} 0
iot_auth_requests_total{zone="iot",result="negative"} 1
iot_auth_requests_total{zone="iot",result="denied"} 1
iot_auth_requests_total{zone="iot",result="unknown"} 1
iot_auth_requests_total{zone="iot",result="locked"} 0
iot_auth_requests_total{zone="iot",result="forbidden"} 0
iot_auth_requests_total{zone="iot",result="busy"} 0
iot_auth_requests_total{zone="iot",result="error"} 0
# HELP iot_auth_bcrypt_total bcrypt verifications run, by outcome.
# TYPE iot_auth_bcrypt_total counter
iot_auth_bcrypt_total{zone="iot",outcome="match"} 1
iot_auth_bcrypt_total{zone="iot",outcome="mismatch"} 1
# HELP iot_auth_bcrypt_seconds_total Time spent in bcrypt.
# TYPE iot_auth_bcrypt_seconds_total counter
iot_auth_bcrypt_seconds_total{zone="iot"} S
# HELP iot_auth_cache_entries Devices held in the zone.
# TYPE iot_auth_cache_entries gauge
iot_auth_cache_entries{zone="iot"} 2
# HELP iot_auth_cache_evictions_total Devices evicted to make room.
# TYPE iot_auth_cache_evictions_total counter
iot_auth_cache_evictions_total{zone="iot"} 0
# HELP iot_auth_backend_errors_total Credential store lookups that failed.
# TYPE iot_auth_backend_errors_total counter
iot_auth_backend_errors_total{zone="iot",backend="redis"} 0
# HELP iot_auth_flights bcrypt verifications in progress.
# TYPE iot_auth_flights gauge
iot_auth_flights{zone="iot"} 0
# HELP iot_auth_waiters Requests waiting for a verification.
# TYPE iot_auth_waiters gauge
iot_auth_waiters{zone="iot"} 0
_EOC_
--- no_error_log
[error]
[alert]



=== TEST 2: json after MISS, 3 HIT, DENIED, NEGATIVE, UNKNOWN
--- no_repeat: its requests verify tokens in a fresh zone
--- request eval
[("GET /t") x 7, "GET /json"]
--- more_headers eval
[($::Good) x 4, $::Bad, $::Bad, $::Ghost, ""]
--- error_code eval
[200, 200, 200, 200, 401, 401, 401, 200]
--- response_headers eval
["X-Result: MISS", "X-Result: HIT", "X-Result: HIT", "X-Result: HIT",
 "X-Result: DENIED", "X-Result: NEGATIVE", "X-Result: UNKNOWN",
 "Content-Type: application/json"]
--- response_body_filters eval
\&::mask_seconds
--- response_body eval
[("ok\n") x 4, (qr/401 Authorization Required/) x 3,
'{"iot":{"requests":{"hit":3,"revalidated":0,"miss":1,"wait":0,'
. '"refresh":0,"stale":0,"negative":1,"denied":1,"unknown":1,"locked":0,'
. '"forbidden":0,"busy":0,"error":0},'
. '"bcrypt":{"match":1,"mismatch":1,"seconds":S},'
. '"cache":{"entries":2,"evictions":0},"backend_errors":{"redis":0},'
. '"flights":0,"waiters":0}}' . "\n"]
--- no_error_log
[error]
[alert]



=== TEST 3: an empty zone in both formats
--- request eval
["GET /status", "GET /json"]
--- response_body eval
[<<'_EOC_',
# HELP iot_auth_requests_total Requests checked, by result.
# TYPE iot_auth_requests_total counter
iot_auth_requests_total{zone="iot",result="hit"} 0
iot_auth_requests_total{zone="iot",result="revalidated"} 0
iot_auth_requests_total{zone="iot",result="miss"} 0
iot_auth_requests_total{zone="iot",result="wait"} 0
iot_auth_requests_total{zone="iot",result="refresh"} 0
iot_auth_requests_total{zone="iot",result="stale"} 0
iot_auth_requests_total{zone="iot",result="negative"} 0
iot_auth_requests_total{zone="iot",result="denied"} 0
iot_auth_requests_total{zone="iot",result="unknown"} 0
iot_auth_requests_total{zone="iot",result="locked"} 0
iot_auth_requests_total{zone="iot",result="forbidden"} 0
iot_auth_requests_total{zone="iot",result="busy"} 0
iot_auth_requests_total{zone="iot",result="error"} 0
# HELP iot_auth_bcrypt_total bcrypt verifications run, by outcome.
# TYPE iot_auth_bcrypt_total counter
iot_auth_bcrypt_total{zone="iot",outcome="match"} 0
iot_auth_bcrypt_total{zone="iot",outcome="mismatch"} 0
# HELP iot_auth_bcrypt_seconds_total Time spent in bcrypt.
# TYPE iot_auth_bcrypt_seconds_total counter
iot_auth_bcrypt_seconds_total{zone="iot"} 0.000000
# HELP iot_auth_cache_entries Devices held in the zone.
# TYPE iot_auth_cache_entries gauge
iot_auth_cache_entries{zone="iot"} 0
# HELP iot_auth_cache_evictions_total Devices evicted to make room.
# TYPE iot_auth_cache_evictions_total counter
iot_auth_cache_evictions_total{zone="iot"} 0
# HELP iot_auth_backend_errors_total Credential store lookups that failed.
# TYPE iot_auth_backend_errors_total counter
iot_auth_backend_errors_total{zone="iot",backend="redis"} 0
# HELP iot_auth_flights bcrypt verifications in progress.
# TYPE iot_auth_flights gauge
iot_auth_flights{zone="iot"} 0
# HELP iot_auth_waiters Requests waiting for a verification.
# TYPE iot_auth_waiters gauge
iot_auth_waiters{zone="iot"} 0
_EOC_
'{"iot":{"requests":{"hit":0,"revalidated":0,"miss":0,"wait":0,'
. '"refresh":0,"stale":0,"negative":0,"denied":0,"unknown":0,"locked":0,'
. '"forbidden":0,"busy":0,"error":0},'
. '"bcrypt":{"match":0,"mismatch":0,"seconds":0.000000},'
. '"cache":{"entries":0,"evictions":0},"backend_errors":{"redis":0},'
. '"flights":0,"waiters":0}}' . "\n"]
--- no_error_log
[error]
[alert]



=== TEST 4: the backend errors family has the redis label only
--- request eval
["GET /status", "GET /json"]
--- response_body_like eval
['(?m)^# HELP iot_auth_backend_errors_total Credential store lookups that '
 . 'failed\.\n# TYPE iot_auth_backend_errors_total counter\n'
 . 'iot_auth_backend_errors_total\{zone="iot",backend="redis"\} 0\n'
 . '# HELP iot_auth_flights ',
 '"cache":\{"entries":0,"evictions":0\},"backend_errors":\{"redis":0\},'
 . '"flights":0,']
--- no_error_log
[error]
[alert]



=== TEST 5: methods other than GET and HEAD get 405
--- request eval
["POST /status\nx=1", "PUT /json\nx=1", "DELETE /status", "HEAD /status",
 "GET /status"]
--- error_code eval
[405, 405, 405, 200, 200]
--- response_headers eval
["", "", "", "Content-Type: text/plain; version=0.0.4",
 "Content-Type: text/plain; version=0.0.4"]
--- no_error_log
[error]
[alert]



=== TEST 6: two zones are listed, each with its own numbers
--- no_repeat: its requests verify tokens in a fresh zone
--- http_config
    iot_auth_zone zone=north:1m;
    iot_auth_zone zone=south:1m;
--- config
    location = /n {
        iot_auth zone=north;
        iot_auth_credentials file=../html/creds;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /s {
        iot_auth zone=south;
        iot_auth_credentials file=../html/creds;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /status {
        iot_auth_status;
    }
    location = /json {
        iot_auth_status json;
    }
--- request eval
["GET /n", "GET /n", "GET /s", "GET /s", "GET /status", "GET /json"]
--- more_headers eval
[$::Good, $::Good, $::Bad, $::Good, "", ""]
--- error_code eval
[200, 200, 401, 200, 200, 200]
--- response_body_filters eval
\&::mask_seconds
--- response_body eval
["ok\n", "ok\n", qr/401 Authorization Required/, "ok\n",
<<'_EOC_',
# HELP iot_auth_requests_total Requests checked, by result.
# TYPE iot_auth_requests_total counter
iot_auth_requests_total{zone="north",result="hit"} 1
iot_auth_requests_total{zone="north",result="revalidated"} 0
iot_auth_requests_total{zone="north",result="miss"} 1
iot_auth_requests_total{zone="north",result="wait"} 0
iot_auth_requests_total{zone="north",result="refresh"} 0
iot_auth_requests_total{zone="north",result="stale"} 0
iot_auth_requests_total{zone="north",result="negative"} 0
iot_auth_requests_total{zone="north",result="denied"} 0
iot_auth_requests_total{zone="north",result="unknown"} 0
iot_auth_requests_total{zone="north",result="locked"} 0
iot_auth_requests_total{zone="north",result="forbidden"} 0
iot_auth_requests_total{zone="north",result="busy"} 0
iot_auth_requests_total{zone="north",result="error"} 0
iot_auth_requests_total{zone="south",result="hit"} 0
iot_auth_requests_total{zone="south",result="revalidated"} 0
iot_auth_requests_total{zone="south",result="miss"} 1
iot_auth_requests_total{zone="south",result="wait"} 0
iot_auth_requests_total{zone="south",result="refresh"} 0
iot_auth_requests_total{zone="south",result="stale"} 0
iot_auth_requests_total{zone="south",result="negative"} 0
iot_auth_requests_total{zone="south",result="denied"} 1
iot_auth_requests_total{zone="south",result="unknown"} 0
iot_auth_requests_total{zone="south",result="locked"} 0
iot_auth_requests_total{zone="south",result="forbidden"} 0
iot_auth_requests_total{zone="south",result="busy"} 0
iot_auth_requests_total{zone="south",result="error"} 0
# HELP iot_auth_bcrypt_total bcrypt verifications run, by outcome.
# TYPE iot_auth_bcrypt_total counter
iot_auth_bcrypt_total{zone="north",outcome="match"} 1
iot_auth_bcrypt_total{zone="north",outcome="mismatch"} 0
iot_auth_bcrypt_total{zone="south",outcome="match"} 1
iot_auth_bcrypt_total{zone="south",outcome="mismatch"} 1
# HELP iot_auth_bcrypt_seconds_total Time spent in bcrypt.
# TYPE iot_auth_bcrypt_seconds_total counter
iot_auth_bcrypt_seconds_total{zone="north"} S
iot_auth_bcrypt_seconds_total{zone="south"} S
# HELP iot_auth_cache_entries Devices held in the zone.
# TYPE iot_auth_cache_entries gauge
iot_auth_cache_entries{zone="north"} 1
iot_auth_cache_entries{zone="south"} 1
# HELP iot_auth_cache_evictions_total Devices evicted to make room.
# TYPE iot_auth_cache_evictions_total counter
iot_auth_cache_evictions_total{zone="north"} 0
iot_auth_cache_evictions_total{zone="south"} 0
# HELP iot_auth_backend_errors_total Credential store lookups that failed.
# TYPE iot_auth_backend_errors_total counter
iot_auth_backend_errors_total{zone="north",backend="redis"} 0
iot_auth_backend_errors_total{zone="south",backend="redis"} 0
# HELP iot_auth_flights bcrypt verifications in progress.
# TYPE iot_auth_flights gauge
iot_auth_flights{zone="north"} 0
iot_auth_flights{zone="south"} 0
# HELP iot_auth_waiters Requests waiting for a verification.
# TYPE iot_auth_waiters gauge
iot_auth_waiters{zone="north"} 0
iot_auth_waiters{zone="south"} 0
_EOC_
'{"north":{"requests":{"hit":1,"revalidated":0,"miss":1,"wait":0,'
. '"refresh":0,"stale":0,"negative":0,"denied":0,"unknown":0,"locked":0,'
. '"forbidden":0,"busy":0,"error":0},'
. '"bcrypt":{"match":1,"mismatch":0,"seconds":S},'
. '"cache":{"entries":1,"evictions":0},"backend_errors":{"redis":0},'
. '"flights":0,"waiters":0},'
. '"south":{"requests":{"hit":0,"revalidated":0,"miss":1,"wait":0,'
. '"refresh":0,"stale":0,"negative":0,"denied":1,"unknown":0,"locked":0,'
. '"forbidden":0,"busy":0,"error":0},'
. '"bcrypt":{"match":1,"mismatch":1,"seconds":S},'
. '"cache":{"entries":1,"evictions":0},"backend_errors":{"redis":0},'
. '"flights":0,"waiters":0}}' . "\n"]
--- no_error_log
[error]
[alert]



=== TEST 7: $iot_auth_device, $iot_auth_result and $iot_auth_perms
--- no_repeat: its requests verify tokens in a fresh zone
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Device $iot_auth_device always;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- request eval
[("GET /t") x 6]
--- more_headers eval
[$::Good, $::Good, "X-Device-Id: dev2\nX-Device-Token: secret2", $::Bad,
 $::Ghost, "X-Device-Id: dev1\nX-Device-Token: secret 1"]
--- error_code eval
[200, 200, 200, 401, 401, 400]
--- response_headers eval
["X-Device: dev1\nX-Result: MISS\nX-Perms: 3",
 "X-Device: dev1\nX-Result: HIT\nX-Perms: 3",
 "X-Device: dev2\nX-Result: MISS\nX-Perms: 1",
 "X-Device: dev1\nX-Result: DENIED\n!X-Perms",
 "X-Device: ghost\nX-Result: UNKNOWN\n!X-Perms",
 "X-Device: dev1\nX-Result: DENIED\n!X-Perms"]
--- no_error_log
[error]
[alert]



=== TEST 8: the variables are empty where iot_auth is off
--- config
    location = /t {
        add_header X-Device $iot_auth_device always;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-Device-Id: dev1
X-Device-Token: secret1
--- response_headers
!X-Device
!X-Result
!X-Perms
--- no_error_log
[error]
[alert]



=== TEST 9: iot_auth_require_perms allows devices holding every bit
--- no_repeat: its requests verify tokens in a fresh zone
--- config
    location = /read {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 1;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /write {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 0x2;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /admin {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 0x6;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /status {
        iot_auth_status;
    }
--- request eval
["GET /write", "GET /write", "GET /read", "GET /read", "GET /write",
 "GET /admin", "GET /status"]
--- more_headers eval
[$::Good, "X-Device-Id: dev2\nX-Device-Token: secret2", $::Good,
 "X-Device-Id: dev2\nX-Device-Token: secret2",
 "X-Device-Id: dev2\nX-Device-Token: secret2", $::Good, ""]
--- error_code eval
[200, 403, 200, 200, 403, 403, 200]
--- response_headers eval
["X-Result: MISS\nX-Perms: 3",
 "X-Result: FORBIDDEN\nX-Perms: 1",
 "X-Result: HIT\nX-Perms: 3",
 "X-Result: HIT\nX-Perms: 1",
 "X-Result: FORBIDDEN\nX-Perms: 1",
 "X-Result: FORBIDDEN\nX-Perms: 3",
 ""]
--- response_body_like eval
["^ok\n\\z", "403 Forbidden", "^ok\n\\z", "^ok\n\\z", "403 Forbidden",
 "403 Forbidden",
 '(?m)^iot_auth_requests_total\{zone="iot",result="hit"\} 2$.*'
 . '^iot_auth_requests_total\{zone="iot",result="miss"\} 1$.*'
 . '^iot_auth_requests_total\{zone="iot",result="forbidden"\} 3$.*'
 . '^iot_auth_bcrypt_total\{zone="iot",outcome="match"\} 2$']
--- no_error_log
[error]
[alert]



=== TEST 10: error_page redirect reuses the verdict
--- no_repeat: its requests verify tokens in a fresh zone
--- config
    location = /missing {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        log_not_found off;
        error_page 404 = /t;
    }
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /status {
        iot_auth_status;
    }
--- request eval
["GET /missing", "GET /status"]
--- more_headers eval
[$::Good, ""]
--- response_headers eval
["X-Result: MISS", ""]
--- response_body_like eval
["^ok\n\\z",
 '(?m)^iot_auth_requests_total\{zone="iot",result="hit"\} 0$.*'
 . '^iot_auth_requests_total\{zone="iot",result="miss"\} 1$.*'
 . '^iot_auth_bcrypt_total\{zone="iot",outcome="match"\} 1$']
--- no_error_log
[error]
[alert]



=== TEST 11: index redirect reuses the verdict
--- no_repeat: its requests verify tokens in a fresh zone
--- config
    location /d/ {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        index idx.txt;
    }
    location = /status {
        iot_auth_status;
    }
--- user_files
>>> creds
dev1:$2y$04$jFF2G2caxZRZzgKWBC.B5erAdPEVvfx9HCrC7KG9pHFhw8UirH/Tm:0x3
>>> d/idx.txt
indexed
--- request eval
["GET /d/", "GET /status"]
--- more_headers eval
[$::Good, ""]
--- response_headers eval
["X-Result: MISS", ""]
--- response_body_like eval
["^indexed\n\\z",
 '(?m)^iot_auth_requests_total\{zone="iot",result="hit"\} 0$.*'
 . '^iot_auth_requests_total\{zone="iot",result="miss"\} 1$.*'
 . '^iot_auth_bcrypt_total\{zone="iot",outcome="match"\} 1$']
--- no_error_log
[error]
[alert]



=== TEST 12: try_files redirects reuse the verdict
--- no_repeat: its requests verify tokens in a fresh zone
--- config
    location = /tf {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        try_files /nope /t;
    }
    location = /named {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        try_files /nope @t;
    }
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location @t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        rewrite ^ /backend break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /status {
        iot_auth_status;
    }
--- request eval
["GET /tf", "GET /named", "GET /status"]
--- more_headers eval
[$::Good, "X-Device-Id: dev2\nX-Device-Token: secret2", ""]
--- response_headers eval
["X-Result: MISS", "X-Result: MISS", ""]
--- response_body_like eval
["^ok\n\\z", "^ok\n\\z",
 '(?m)^iot_auth_requests_total\{zone="iot",result="hit"\} 0$.*'
 . '^iot_auth_requests_total\{zone="iot",result="miss"\} 2$.*'
 . '^iot_auth_bcrypt_total\{zone="iot",outcome="match"\} 2$']
--- no_error_log
[error]
[alert]



=== TEST 13: the variables in the access log
--- http_config
    iot_auth_zone zone=iot:1m;
    log_format iot "$iot_auth_device $iot_auth_result $iot_auth_perms";
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        access_log logs/access.log iot;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- init
use IotAuthTest qw(herd);
for my $token (qw(secret1 secret1 wrongtoken)) {
    herd([{ uri => '/t', headers => { 'X-Device-Id' => 'dev1',
                                      'X-Device-Token' => $token } }]);
}
--- request
GET /t
--- more_headers eval
$::Ghost
--- error_code: 401
--- access_log
dev1 MISS 3
dev1 HIT 3
dev1 DENIED -
ghost UNKNOWN -
--- no_error_log
[error]
[alert]



=== TEST 14: a status page behind iot_auth
--- no_repeat: its requests verify tokens in a fresh zone
--- config
    location = /status {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_status json;
    }
--- request eval
["GET /status", "GET /status"]
--- more_headers eval
["", $::Good]
--- error_code eval
[401, 200]
--- response_body_filters eval
\&::mask_seconds
--- response_body eval
[qr/401 Authorization Required/,
'{"iot":{"requests":{"hit":0,"revalidated":0,"miss":1,"wait":0,'
. '"refresh":0,"stale":0,"negative":0,"denied":1,"unknown":0,"locked":0,'
. '"forbidden":0,"busy":0,"error":0},'
. '"bcrypt":{"match":1,"mismatch":0,"seconds":S},'
. '"cache":{"entries":1,"evictions":0},"backend_errors":{"redis":0},'
. '"flights":0,"waiters":0}}' . "\n"]
--- no_error_log
[error]
[alert]



=== TEST 15: a status page without any zone
--- http_config
--- config
    location = /status {
        iot_auth_status;
    }
    location = /json {
        iot_auth_status json;
    }
--- request eval
["GET /status", "GET /json"]
--- response_body eval
[<<'_EOC_', "{}\n"]
# HELP iot_auth_requests_total Requests checked, by result.
# TYPE iot_auth_requests_total counter
# HELP iot_auth_bcrypt_total bcrypt verifications run, by outcome.
# TYPE iot_auth_bcrypt_total counter
# HELP iot_auth_bcrypt_seconds_total Time spent in bcrypt.
# TYPE iot_auth_bcrypt_seconds_total counter
# HELP iot_auth_cache_entries Devices held in the zone.
# TYPE iot_auth_cache_entries gauge
# HELP iot_auth_cache_evictions_total Devices evicted to make room.
# TYPE iot_auth_cache_evictions_total counter
# HELP iot_auth_backend_errors_total Credential store lookups that failed.
# TYPE iot_auth_backend_errors_total counter
# HELP iot_auth_flights bcrypt verifications in progress.
# TYPE iot_auth_flights gauge
# HELP iot_auth_waiters Requests waiting for a verification.
# TYPE iot_auth_waiters gauge
_EOC_
--- no_error_log
[error]
[alert]

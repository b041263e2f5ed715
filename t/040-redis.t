use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthRedis qw(free_port redis_start fake_redis_start);
use IotAuthRedisCases;
use File::Temp qw(tempdir);

# Two real redis-server instances, started here on free ports and killed
# when the file ends: "main" (TCP and a unix socket) and "auth" (with a
# password), and a fake one that sends odd replies.  Configs reach them as
# $TEST_NGINX_REDIS_PORT, $TEST_NGINX_REDIS_SOCKET,
# $TEST_NGINX_REDIS_AUTH_PORT (password $TEST_NGINX_REDIS_PASSWORD) and
# $TEST_NGINX_REDIS_FAKE_PORT.  What they hold and the scenarios the
# blocks run are in t/lib/IotAuthRedisCases.pm.  The blocks make their
# requests for /p in --- init, so that with TEST_NGINX_REPEAT_EACH=2 every
# repetition sees the same zone.

our $Sock = tempdir('iot-redis-sock-XXXXXX', TMPDIR => 1, CLEANUP => 1);

$ENV{TEST_NGINX_REDIS_PORT} = free_port();
$ENV{TEST_NGINX_REDIS_SOCKET} = "$Sock/redis.sock";
$ENV{TEST_NGINX_REDIS_AUTH_PORT} = free_port();
$ENV{TEST_NGINX_REDIS_FAKE_PORT} = free_port();
$ENV{TEST_NGINX_REDIS_PASSWORD} = $IotAuthRedisCases::Password;

redis_start('main', port => $ENV{TEST_NGINX_REDIS_PORT},
            socket => $ENV{TEST_NGINX_REDIS_SOCKET});
redis_start('auth', port => $ENV{TEST_NGINX_REDIS_AUTH_PORT},
            password => $IotAuthRedisCases::Password);

IotAuthRedisCases::populate();

fake_redis_start('fake', $ENV{TEST_NGINX_REDIS_FAKE_PORT},
                 \%IotAuthRedisCases::Odd);

master_on();
workers(2);
worker_connections(1024);
repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
no_long_string();
log_level('info');
check_accum_error_log();

my $http_config = <<'_EOC_';
    iot_auth_zone zone=iot:1m ttl=30s;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=300ms
                   revoke_channel=iot:revoke;
_EOC_

my $config = <<'_EOC_';
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
    }

    location = /status {
        iot_auth_status;
    }
_EOC_

add_block_preprocessor(sub {
    my ($block) = @_;

    $block->set_value(main_config => 'thread_pool iot_auth threads=2;')
        if !defined $block->main_config;
    $block->set_value(http_config => $http_config)
        if !defined $block->http_config;
    $block->set_value(config => $config) if !defined $block->config;
    $block->set_value(user_files => ">>> p\nok\n")
        if !defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: a good token, a wrong one, an unknown device
--- init
IotAuthRedisCases::probe([dev1 => 'secret1'], [dev1 => 'wrong1'],
                         [nobody => 'secret1'], [dev1 => 'secret1']);
--- request
GET /result.txt
--- response_body
dev1/secret1 200 MISS perms=5
dev1/wrong1 401 DENIED
nobody/secret1 401 UNKNOWN
dev1/secret1 200 HIT perms=5
--- error_log
iot_auth: device "dev1" rejected: wrong token
iot_auth: device "nobody" rejected: unknown device
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: records Redis cannot vouch for, and a 100 KB field
--- init
IotAuthRedisCases::probe([dis => 'secret1'], [str => 'secret1'],
                         [badhash => 'secret1'], [badperms => 'secret1'],
                         [nohash => 'secret1'], [huge => 'secret1'],
                         [enabled => 'secret1'], [enabled => 'secret1']);
--- request
GET /result.txt
--- response_body
dis/secret1 401 UNKNOWN
str/secret1 401 UNKNOWN
badhash/secret1 401 UNKNOWN
badperms/secret1 401 UNKNOWN
nohash/secret1 401 UNKNOWN
huge/secret1 401 UNKNOWN
enabled/secret1 200 MISS perms=16
enabled/secret1 200 HIT perms=16
--- error_log
iot_auth: device disabled by redis key "iot:device:dis"
iot_auth: redis key "iot:device:str" is not a hash
iot_auth: redis key "iot:device:badhash" has no valid "hash" field
iot_auth: redis key "iot:device:badperms" has an invalid "perms" field
iot_auth: redis key "iot:device:nohash" has no valid "hash" field
iot_auth: redis key "iot:device:huge" has no valid "hash" field
--- no_error_log eval
[qr/\$2b\$04\$/, qr/xxxxxxxx/, "is unavailable", "[alert]", "[crit]",
 qr/\[error\].*disabled by redis/]



=== TEST 3: iot_auth_redis_key puts the device after another prefix
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:a:;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
    }
--- init
IotAuthRedisCases::probe([t1 => 'secret1'], [dev1 => 'secret1']);
--- request
GET /result.txt
--- response_body
t1/secret1 200 MISS perms=7
dev1/secret1 401 UNKNOWN
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: two prefixes sharing a zone never take each other's verdicts
--- config
    location = /a {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:a:;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }

    location = /b {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:b:;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- init
IotAuthRedisCases::probe([t1 => 'secret1', uri => '/a'],
                         [t1 => 'secret1', uri => '/b'],
                         [t1 => 'secret2', uri => '/b'],
                         [t1 => 'secret2', uri => '/a']);
--- request
GET /result.txt
--- response_body
t1/secret1 /a 200 MISS
t1/secret1 /b 401 DENIED
t1/secret2 /b 200 MISS
t1/secret2 /a 401 DENIED
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: iot_auth_max_pending holds while store lookups are in flight
--- main_config
    thread_pool iot_auth threads=1;
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=5s;
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_max_pending 1;
        empty_gif;
    }

    location = /status {
        iot_auth_status;
    }
--- init
IotAuthRedisCases::admission();
--- request
GET /result.txt
--- response_body
one bcrypt per worker at most: yes
the others busy: yes
bcrypt per 200: yes
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: db= selects the database
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=3;
--- init
IotAuthRedisCases::probe([db3 => 'secret1'], [dev1 => 'secret1']);
--- request
GET /result.txt
--- response_body
db3/secret1 200 MISS perms=0
dev1/secret1 401 UNKNOWN
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: password= authenticates
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_AUTH_PORT
                   password=$TEST_NGINX_REDIS_PASSWORD db=0
                   connect_timeout=500ms;
--- init
IotAuthRedisCases::probe([pw1 => 'secret1'], [pw1 => 'secret1']);
--- request
GET /result.txt
--- response_body
pw1/secret1 200 MISS perms=0
pw1/secret1 200 HIT perms=0
--- no_error_log
[error]
[alert]
[crit]



=== TEST 8: a wrong password is an outage: 503, said once per worker
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_AUTH_PORT password=wrong;
--- request eval
[("GET /p") x 3]
--- more_headers eval
[(IotAuthTest::creds("pw1", "secret1")) x 3]
--- error_code eval
[503, 503, 503]
--- response_headers eval
[("Retry-After: 1\nX-Result: ERROR") x 3]
--- error_log eval
qr/\[error\].*iot_auth: redis "127\.0\.0\.1:\d+" is unavailable: WRONGPASS/
--- grep_error_log eval
qr/is unavailable: \w+/
--- grep_error_log_out
is unavailable: WRONGPASS
is unavailable: WRONGPASS
--- no_error_log
[alert]
[crit]



=== TEST 9: an error reply is a failure to answer: 503, not a flood of lines
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_AUTH_PORT
                   password=$TEST_NGINX_REDIS_PASSWORD;
--- init
IotAuthRedisCases::error_reply();
--- request
GET /result.txt
--- response_body
pw1 503 ERROR retry=1
logged: yes
once per worker: yes
--- error_log eval
qr/\[error\].*iot_auth: redis HMGET "iot:device:pw1" failed: NOPERM/
--- no_error_log
is unavailable
[alert]
[crit]



=== TEST 10: replies of any shape: 503 and a line, never a crash
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_FAKE_PORT;
--- init
IotAuthRedisCases::odd_replies();
--- request
GET /result.txt
--- response_body
int 503 ERROR retry=1
status 503 ERROR retry=1
nil 503 ERROR retry=1
nullarr 503 ERROR retry=1
empty 503 ERROR retry=1
two 503 ERROR retry=1
four 503 ERROR retry=1
nested 503 ERROR retry=1
intfield 503 ERROR retry=1
errfield 503 ERROR retry=1
many 503 ERROR retry=1
good 200 MISS perms=9
garbage 503 ERROR retry=1
then 200 HIT perms=9
--- error_log eval
[qr/redis sent an unexpected reply to HMGET "iot:device:int"/,
 qr/redis sent an unexpected reply to HMGET "iot:device:errfield"/,
 qr/redis sent an unexpected reply to HMGET "iot:device:many"/,
 qr/is unavailable: Protocol error/]
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 11: a unix socket
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis unix:$TEST_NGINX_REDIS_SOCKET;
--- init
IotAuthRedisCases::probe([uds1 => 'secret1'], [uds1 => 'secret1']);
--- request
GET /result.txt
--- response_body
uds1/secret1 200 MISS perms=5
uds1/secret1 200 HIT perms=5
--- no_error_log
[error]
[alert]
[crit]



=== TEST 12: Redis killed and restarted: cache served, 503, recovery
--- init
IotAuthRedisCases::outage();
--- request
GET /result.txt
--- response_body
prime 200 MISS perms=5
cached 200 HIT perms=5
uncached 503 ERROR retry=1
recovered 200 MISS perms=5
outage logged once per worker: yes
--- no_error_log
[alert]
[crit]



=== TEST 13: Redis frozen: 503 within the timeout, then recovery
--- init
IotAuthRedisCases::frozen();
--- request
GET /result.txt
--- response_body
prime 200 MISS perms=5
cached 200 HIT perms=5
cached fast: yes
uncached 503 ERROR retry=1
503 within the timeout: yes
recovered 200 MISS perms=5
--- error_log eval
qr/\[error\].*iot_auth: redis "[\d.:]+" is unavailable: no reply in 300ms/
--- no_error_log
[alert]
[crit]



=== TEST 14: a device id published on revoke_channel is refused at once
--- init
IotAuthRedisCases::revocation();
--- request
GET /result.txt
--- response_body
prime rv1 200 MISS perms=5
prime rv2 200 MISS perms=5
disabled but cached 200 HIT perms=5
subscribers reached: 1
revoked 401 UNKNOWN
within 1s: yes
other device 200 HIT perms=5
--- error_log eval
['iot_auth: device "rv1" revoked',
 "ignored a malformed device id of 6 bytes published on redis channel"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 15: a new hash in Redis refuses the old token after the ttl
--- http_config
    iot_auth_zone zone=iot:1m ttl=1s;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- init
IotAuthRedisCases::hash_change();
--- request
GET /result.txt
--- response_body
prime 200 MISS perms=5
within ttl 200 HIT perms=5
old token 401 DENIED
new token 200 MISS perms=5
--- no_error_log
[error]
[alert]
[crit]



=== TEST 16: a herd of 50 for a cold device: one HMGET, one bcrypt
--- init
IotAuthRedisCases::herd50();
--- request
GET /result.txt
--- response_body
200:50
hmget 1
bcrypt 1
--- no_error_log
[error]
[alert]
[crit]



=== TEST 17: stale_if_error: Redis down, an expired verdict passes as STALE
--- http_config
    iot_auth_zone zone=iot:1m ttl=1s;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_stale_if_error 30s;
        add_header X-Result $iot_auth_result always;
    }
--- init
IotAuthRedisCases::stale();
--- request
GET /result.txt
--- response_body
prime 200 MISS
same token 200 STALE
other token 503 ERROR retry=1
other device 503 ERROR retry=1
--- no_error_log
[alert]
[crit]



=== TEST 18: a reload and a stop (with a lookup in flight) leave nothing open
--- init
IotAuthRedisCases::lifecycle();
--- request
GET /result.txt
--- response_body
before reload 200 -
connections: 3
after reload 200 -
connections: 3
in flight at stop: 503
stopped: yes
connections left: 0
alerts: 0
--- no_error_log
[error]
[alert]
[crit]



=== TEST 19: a bad port
--- http_config
    iot_auth_redis 127.0.0.1:99999;
--- config
--- must_die
--- error_log
[emerg]
invalid port in redis address "127.0.0.1:99999"



=== TEST 20: a path after the address
--- http_config
    iot_auth_redis 127.0.0.1/1;
--- config
--- must_die
--- error_log
[emerg]
invalid host in redis address "127.0.0.1/1"



=== TEST 21: a bad db
--- http_config
    iot_auth_redis 127.0.0.1 db=-1;
--- config
--- must_die
--- error_log
[emerg]
invalid db "db=-1"



=== TEST 22: a zero timeout
--- http_config
    iot_auth_redis 127.0.0.1 timeout=0;
--- config
--- must_die
--- error_log
[emerg]
invalid timeout "timeout=0"



=== TEST 23: a bad connect_timeout
--- http_config
    iot_auth_redis 127.0.0.1 connect_timeout=soon;
--- config
--- must_die
--- error_log
[emerg]
invalid connect_timeout "connect_timeout=soon"



=== TEST 24: an empty password
--- http_config
    iot_auth_redis 127.0.0.1 password=;
--- config
--- must_die
--- error_log
[emerg]
empty redis password



=== TEST 25: an empty revoke_channel
--- http_config
    iot_auth_redis 127.0.0.1 revoke_channel=;
--- config
--- must_die
--- error_log
[emerg]
invalid revoke_channel "revoke_channel="



=== TEST 26: an unknown parameter
--- http_config
    iot_auth_redis 127.0.0.1 pool=4;
--- config
--- must_die
--- error_log
[emerg]
invalid parameter "pool=4"



=== TEST 27: two endpoints
--- http_config
    iot_auth_redis 127.0.0.1;
    iot_auth_redis 127.0.0.2;
--- config
--- must_die
--- error_log
[emerg]
"iot_auth_redis" directive is duplicate

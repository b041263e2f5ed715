use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(block_defaults);

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();

our $H1 = '$2y$04$jFF2G2caxZRZzgKWBC.B5erAdPEVvfx9HCrC7KG9pHFhw8UirH/Tm';
our $Conf = "$ENV{TEST_NGINX_SERVER_ROOT}/conf";

check_accum_error_log();

# With TEST_NGINX_REPEAT_EACH=2 (repeat_each) the blocks with a
# "--- no_repeat" section are skipped: TEST 102, 111 and 112 assert what
# a fresh zone answers to the requests of their request sections (MISS,
# a lockout after so many failures); repeated in the same nginx, their
# second round would find the verdicts and the lockout of the first.

# Unless a block says otherwise: the iot_auth thread pool and a zone "iot".
add_block_preprocessor(sub { block_defaults(shift) });

run_tests();

__DATA__

=== TEST 1: iot_auth_zone without zone=
--- http_config
    iot_auth_zone ttl=10s;
--- config
--- must_die
--- error_log
[emerg]
"iot_auth_zone" must have "zone" parameter



=== TEST 2: iot_auth_zone without a size
--- http_config
    iot_auth_zone zone=iot;
--- config
--- must_die
--- error_log
[emerg]
invalid zone size "zone=iot"



=== TEST 3: iot_auth_zone with a quote in the zone name
--- http_config
    iot_auth_zone 'zone=i"t:1m';
--- config
--- must_die
--- error_log
[emerg]
invalid zone "zone=i"t:1m"



=== TEST 4: iot_auth_zone with a bad size
--- http_config
    iot_auth_zone zone=iot:lots;
--- config
--- must_die
--- error_log
[emerg]
invalid zone "zone=iot:lots"



=== TEST 5: iot_auth_zone with an empty name
--- http_config
    iot_auth_zone zone=:1m;
--- config
--- must_die
--- error_log
[emerg]
invalid zone "zone=:1m"



=== TEST 6: iot_auth_zone smaller than 8 pages
--- http_config
    iot_auth_zone zone=iot:16k;
--- config
--- must_die
--- error_log
[emerg]
zone "zone=iot:16k" is too small, it must be at least 32768 bytes



=== TEST 7: ttl=0
--- http_config
    iot_auth_zone zone=iot:1m ttl=0;
--- config
--- must_die
--- error_log
[emerg]
invalid ttl "ttl=0"



=== TEST 8: ttl not a time
--- http_config
    iot_auth_zone zone=iot:1m ttl=soon;
--- config
--- must_die
--- error_log
[emerg]
invalid ttl "ttl=soon"



=== TEST 9: negative_ttl not a time
--- http_config
    iot_auth_zone zone=iot:1m negative_ttl=-1s;
--- config
--- must_die
--- error_log
[emerg]
invalid negative_ttl "negative_ttl=-1s"



=== TEST 10: refresh=0%
--- http_config
    iot_auth_zone zone=iot:1m refresh=0%;
--- config
--- must_die
--- error_log
[emerg]
invalid refresh "refresh=0%", it must be a percentage from 1% to 100%



=== TEST 11: refresh=101%
--- http_config
    iot_auth_zone zone=iot:1m refresh=101%;
--- config
--- must_die
--- error_log
[emerg]
invalid refresh "refresh=101%", it must be a percentage from 1% to 100%



=== TEST 12: refresh without %
--- http_config
    iot_auth_zone zone=iot:1m refresh=80;
--- config
--- must_die
--- error_log
[emerg]
invalid refresh "refresh=80", it must be a percentage from 1% to 100%



=== TEST 13: iot_auth_zone with an unknown parameter
--- http_config
    iot_auth_zone zone=iot:1m size=2m;
--- config
--- must_die
--- error_log
[emerg]
invalid parameter "size=2m"



=== TEST 14: the same zone defined twice
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_zone zone=iot:1m ttl=5s;
--- config
--- must_die
--- error_log
[emerg]
duplicate zone "iot"



=== TEST 15: iot_auth_zone in a server block
--- http_config
--- config
    iot_auth_zone zone=iot:1m;
--- must_die
--- error_log
[emerg]
"iot_auth_zone" directive is not allowed here



=== TEST 16: iot_auth zone= without a name
--- config
    location = /t {
        iot_auth zone=;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- must_die
--- error_log
[emerg]
invalid parameter "zone="



=== TEST 17: iot_auth with a bad parameter
--- config
    location = /t {
        iot_auth on;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- must_die
--- error_log
[emerg]
invalid parameter "on"



=== TEST 18: iot_auth with a zone that is never defined
--- config
    location = /t {
        iot_auth zone=nope;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- must_die
--- error_log eval
["[emerg]", qr{iot_auth zone "nope" is not defined by "iot_auth_zone" in \Q$::Conf\E/nginx\.conf:\d+$}]



=== TEST 19: iot_auth twice in one location
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth off;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- must_die
--- error_log
[emerg]
"iot_auth" directive is duplicate



=== TEST 20: iot_auth without iot_auth_credentials
--- config
    location = /t {
        iot_auth zone=iot;
    }
--- must_die
--- error_log
[emerg]
"iot_auth" requires "iot_auth_credentials"



=== TEST 21: iot_auth_credentials file= without a path
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "file="



=== TEST 22: iot_auth_credentials with a bad parameter
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials path=../html/creds;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "path=../html/creds"



=== TEST 23: iot_auth_credentials redis without iot_auth_redis
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials redis;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_credentials redis" requires "iot_auth_redis"



=== TEST 24: iot_auth_credentials twice
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- must_die
--- error_log
[emerg]
"iot_auth_credentials" directive is duplicate



=== TEST 25: credentials file missing
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/nope;
    }
--- must_die
--- error_log eval
["[emerg]", qq{open() "$::Conf/../html/nope" failed (2: No such file or directory)}]



=== TEST 26: credentials line without a hash
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "# fleet\ndev1:$::H1\ndev2:secret2\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{no bcrypt hash in "$::Conf/../html/creds" line 3}]



=== TEST 27: credentials line with an empty device id
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => ":$::H1\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{device id must be 1 to 128 bytes in "$::Conf/../html/creds" line 1}]



=== TEST 28: credentials line with a device id of 129 bytes
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\n\n" . ("d" x 129) . ":$::H1\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{device id must be 1 to 128 bytes in "$::Conf/../html/creds" line 3}]



=== TEST 29: credentials line with a space in the device id
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev 1:$::H1\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{device id must be visible ASCII in "$::Conf/../html/creds" line 1}]



=== TEST 30: credentials line with a control byte in the device id
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\ndev\x012:$::H1\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{device id must be visible ASCII in "$::Conf/../html/creds" line 2}]



=== TEST 31: credentials line with a non-ASCII device id
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "d\xc3\xa9v1:$::H1\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{device id must be visible ASCII in "$::Conf/../html/creds" line 1}]



=== TEST 32: hash with prefix $2x$
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:" . ($::H1 =~ s/^\$2y/\$2x/r) . "\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid bcrypt hash in "$::Conf/../html/creds" line 1}]



=== TEST 33: hash with cost 03
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:" . ($::H1 =~ s/\$04\$/\$03\$/r) . "\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid bcrypt hash in "$::Conf/../html/creds" line 1}]



=== TEST 34: hash with cost 32
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:" . ($::H1 =~ s/\$04\$/\$32\$/r) . "\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid bcrypt hash in "$::Conf/../html/creds" line 1}]



=== TEST 35: hash one character short
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:" . substr($::H1, 0, 59) . "\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid bcrypt hash in "$::Conf/../html/creds" line 1}]



=== TEST 36: hash one character long
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:" . $::H1 . "A\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid bcrypt hash in "$::Conf/../html/creds" line 1}]



=== TEST 37: hash with a character outside bcrypt base64
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:" . substr($::H1, 0, 59) . "!\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid bcrypt hash in "$::Conf/../html/creds" line 1}]



=== TEST 38: perms not a number
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1:rw\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid perms in "$::Conf/../html/creds" line 1}]



=== TEST 39: perms empty
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1:\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid perms in "$::Conf/../html/creds" line 1}]



=== TEST 40: perms above 32 bits
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1:4294967295\ndev2:$::H1:4294967296\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid perms in "$::Conf/../html/creds" line 2}]



=== TEST 41: perms with 9 hex digits
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1:0xffffffff\ndev2:$::H1:0x100000000\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid perms in "$::Conf/../html/creds" line 2}]



=== TEST 42: perms with a bad hex digit
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1:0x1g\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{invalid perms in "$::Conf/../html/creds" line 1}]



=== TEST 43: the same device twice
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\ndev2:$::H1\ndev1:$::H1:1\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{duplicate device "dev1" in "$::Conf/../html/creds"}]



=== TEST 44: iot_auth_max_pending 0
--- config
    location = /t {
        iot_auth_max_pending 0;
    }
--- must_die
--- error_log
[emerg]
value must be between 1 and 1000000



=== TEST 45: iot_auth_max_pending above 1000000
--- config
    location = /t {
        iot_auth_max_pending 1000001;
    }
--- must_die
--- error_log
[emerg]
value must be between 1 and 1000000



=== TEST 46: iot_auth_max_pending -1
--- config
    location = /t {
        iot_auth_max_pending -1;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_max_pending" directive invalid number



=== TEST 47: iot_auth_max_pending abc
--- config
    location = /t {
        iot_auth_max_pending abc;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_max_pending" directive invalid number



=== TEST 48: iot_auth_require_perms not a number
--- config
    location = /t {
        iot_auth_require_perms rw;
    }
--- must_die
--- error_log
[emerg]
invalid perms mask "rw", it must be a decimal or 0x hexadecimal 32-bit number



=== TEST 49: iot_auth_require_perms above 32 bits
--- config
    location = /t {
        iot_auth_require_perms 0x100000000;
    }
--- must_die
--- error_log
[emerg]
invalid perms mask "0x100000000", it must be a decimal or 0x hexadecimal 32-bit number



=== TEST 50: iot_auth_secret_file missing
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_secret_file ../html/nope;
--- config
--- must_die
--- error_log eval
["[emerg]", qq{open() "$::Conf/../html/nope" failed (2: No such file or directory)}]



=== TEST 51: iot_auth_secret_file of 31 bytes and a newline
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_secret_file ../html/secret;
--- config
--- user_files eval
[[secret => ("k" x 31) . "\r\n"]]
--- must_die
--- error_log eval
["[emerg]", qq{secret file "$::Conf/../html/secret" must hold at least 32 bytes}]



=== TEST 52: iot_auth_secret_file in a server block
--- config
    iot_auth_secret_file ../html/secret;
--- user_files eval
[[secret => "k" x 32]]
--- must_die
--- error_log
[emerg]
"iot_auth_secret_file" directive is not allowed here



=== TEST 53: iot_auth_status with an unknown format
--- config
    location = /status {
        iot_auth_status xml;
    }
--- must_die
--- error_log
[emerg]
invalid format "xml", it must be "prometheus" or "json"



=== TEST 54: iot_auth_status with two formats
--- config
    location = /status {
        iot_auth_status json prometheus;
    }
--- must_die
--- error_log
[emerg]
invalid number of arguments in "iot_auth_status" directive



=== TEST 55: iot_auth_wait_timeout not a time
--- config
    location = /t {
        iot_auth_wait_timeout soon;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_wait_timeout" directive invalid value



=== TEST 56: the iot_auth thread pool not declared
--- main_config
    thread_pool other threads=1;
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- must_die
--- error_log
[emerg]
unknown thread pool "iot_auth"



=== TEST 57: iot_auth_thread_pool naming an undeclared pool
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_thread_pool other;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- must_die
--- error_log
[emerg]
unknown thread pool "other"



=== TEST 58: iot_auth_lockout on
--- config
    location = /t {
        iot_auth_lockout on;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_lockout" takes "failures=", "window=" and "duration=", or "off"



=== TEST 59: iot_auth_lockout with failures= alone
--- config
    location = /t {
        iot_auth_lockout failures=5;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_lockout" takes "failures=", "window=" and "duration=", or "off"



=== TEST 60: iot_auth_lockout with two parameters
--- config
    location = /t {
        iot_auth_lockout failures=5 window=1m;
    }
--- must_die
--- error_log
[emerg]
invalid number of arguments in "iot_auth_lockout" directive



=== TEST 61: iot_auth_lockout with four parameters
--- config
    location = /t {
        iot_auth_lockout failures=5 window=1m duration=5m failures=6;
    }
--- must_die
--- error_log
[emerg]
invalid number of arguments in "iot_auth_lockout" directive



=== TEST 62: iot_auth_lockout failures=0
--- config
    location = /t {
        iot_auth_lockout failures=0 window=1m duration=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "failures=0"



=== TEST 63: iot_auth_lockout failures=65536
--- config
    location = /t {
        iot_auth_lockout window=1m failures=65536 duration=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "failures=65536"



=== TEST 64: iot_auth_lockout failures=-1
--- config
    location = /t {
        iot_auth_lockout failures=-1 window=1m duration=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "failures=-1"



=== TEST 65: iot_auth_lockout failures not a number
--- config
    location = /t {
        iot_auth_lockout failures=five window=1m duration=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "failures=five"



=== TEST 66: iot_auth_lockout failures= empty
--- config
    location = /t {
        iot_auth_lockout failures= window=1m duration=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "failures="



=== TEST 67: iot_auth_lockout window=0
--- config
    location = /t {
        iot_auth_lockout failures=5 window=0 duration=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "window=0"



=== TEST 68: iot_auth_lockout window not a time
--- config
    location = /t {
        iot_auth_lockout failures=5 window=soon duration=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "window=soon"



=== TEST 69: iot_auth_lockout window= empty
--- config
    location = /t {
        iot_auth_lockout failures=5 duration=5m window=;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "window="



=== TEST 70: iot_auth_lockout duration=0
--- config
    location = /t {
        iot_auth_lockout failures=5 window=1m duration=0;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "duration=0"



=== TEST 71: iot_auth_lockout duration negative
--- config
    location = /t {
        iot_auth_lockout failures=5 window=1m duration=-1s;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "duration=-1s"



=== TEST 72: iot_auth_lockout with an unknown parameter
--- config
    location = /t {
        iot_auth_lockout failures=5 window=1m limit=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "limit=5m"



=== TEST 73: iot_auth_lockout off with parameters
--- config
    location = /t {
        iot_auth_lockout off window=1m duration=5m;
    }
--- must_die
--- error_log
[emerg]
invalid parameter "off"



=== TEST 74: iot_auth_lockout without duration=
--- config
    location = /t {
        iot_auth_lockout failures=5 window=1m window=2m;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_lockout" must have "failures=", "window=" and "duration="



=== TEST 75: iot_auth_lockout without failures=
--- config
    location = /t {
        iot_auth_lockout duration=5m window=1m duration=6m;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_lockout" must have "failures=", "window=" and "duration="



=== TEST 76: iot_auth_lockout without window=
--- config
    location = /t {
        iot_auth_lockout failures=5 duration=5m failures=6;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_lockout" must have "failures=", "window=" and "duration="



=== TEST 77: iot_auth_lockout twice in one location
--- config
    location = /t {
        iot_auth_lockout off;
        iot_auth_lockout failures=5 window=1m duration=5m;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_lockout" directive is duplicate



=== TEST 78: iot_auth_redis without an address
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis;
--- config
--- must_die
--- error_log
[emerg]
invalid number of arguments in "iot_auth_redis" directive



=== TEST 79: iot_auth_redis port 0
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:0;
--- config
--- must_die
--- error_log
[emerg]
invalid port in redis address "127.0.0.1:0"



=== TEST 80: iot_auth_redis port 65536
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:65536;
--- config
--- must_die
--- error_log
[emerg]
invalid port in redis address "127.0.0.1:65536"



=== TEST 81: iot_auth_redis with an empty port
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:;
--- config
--- must_die
--- error_log
[emerg]
invalid port in redis address "127.0.0.1:"



=== TEST 82: iot_auth_redis without a host
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis :6379;
--- config
--- must_die
--- error_log
[emerg]
no host in redis address ":6379"



=== TEST 83: iot_auth_redis address with a path
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:6379/1;
--- config
--- must_die
--- error_log
[emerg]
invalid host in redis address "127.0.0.1:6379/1"



=== TEST 84: iot_auth_redis unix: without a path
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis unix:;
--- config
--- must_die
--- error_log
[emerg]
no path in the unix domain socket in redis address "unix:"



=== TEST 85: iot_auth_redis db not a number
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 db=one;
--- config
--- must_die
--- error_log
[emerg]
invalid db "db=one"



=== TEST 86: iot_auth_redis db negative
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 db=-1;
--- config
--- must_die
--- error_log
[emerg]
invalid db "db=-1"



=== TEST 87: iot_auth_redis db above 32 bits
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 db=2147483648;
--- config
--- must_die
--- error_log
[emerg]
invalid db "db=2147483648"



=== TEST 88: iot_auth_redis db= empty
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 db=;
--- config
--- must_die
--- error_log
[emerg]
invalid db "db="



=== TEST 89: iot_auth_redis password= empty
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 password=;
--- config
--- must_die
--- error_log
[emerg]
empty redis password



=== TEST 90: iot_auth_redis connect_timeout=0
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 connect_timeout=0;
--- config
--- must_die
--- error_log
[emerg]
invalid connect_timeout "connect_timeout=0"



=== TEST 91: iot_auth_redis timeout not a time
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 timeout=soon;
--- config
--- must_die
--- error_log
[emerg]
invalid timeout "timeout=soon"



=== TEST 92: iot_auth_redis revoke_channel= empty
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 revoke_channel=;
--- config
--- must_die
--- error_log
[emerg]
invalid revoke_channel "revoke_channel="



=== TEST 93: iot_auth_redis with an unknown parameter
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 db=1 ssl=on;
--- config
--- must_die
--- error_log
[emerg]
invalid parameter "ssl=on"



=== TEST 94: iot_auth_redis with a bare parameter name
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 db;
--- config
--- must_die
--- error_log
[emerg]
invalid parameter "db"



=== TEST 95: iot_auth_redis twice
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1;
    iot_auth_redis 127.0.0.1:2;
--- config
--- must_die
--- error_log
[emerg]
"iot_auth_redis" directive is duplicate



=== TEST 96: iot_auth_redis in a server block
--- config
    iot_auth_redis 127.0.0.1:1;
--- must_die
--- error_log
[emerg]
"iot_auth_redis" directive is not allowed here



=== TEST 97: iot_auth_redis_key with two prefixes
--- config
    location = /t {
        iot_auth_redis_key iot: device:;
    }
--- must_die
--- error_log
[emerg]
invalid number of arguments in "iot_auth_redis_key" directive



=== TEST 98: iot_auth_redis_key twice in one location
--- config
    location = /t {
        iot_auth_redis_key iot:;
        iot_auth_redis_key dev:;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_redis_key" directive is duplicate



=== TEST 99: iot_auth_stale_if_error not a time
--- config
    location = /t {
        iot_auth_stale_if_error soon;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_stale_if_error" directive invalid value



=== TEST 100: iot_auth_stale_if_error negative
--- config
    location = /t {
        iot_auth_stale_if_error -1s;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_stale_if_error" directive invalid value



=== TEST 101: iot_auth_stale_if_error twice in one location
--- config
    location = /t {
        iot_auth_stale_if_error 1s;
        iot_auth_stale_if_error 2s;
    }
--- must_die
--- error_log
[emerg]
"iot_auth_stale_if_error" directive is duplicate



=== TEST 102: comments, blank lines, indentation and CRLF in the credentials file
--- no_repeat: its requests verify tokens in a fresh zone
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[creds => "# fleet of two\r\n\r\n\n   \t\n"
           . "dev1:$::H1\r\n"
           . "  # dev3:$::H1\n"
           . "\tdev2:\$2y\$04\$rtr7QHMs2OgTxUKqAKmJ4uK3dCN1HThRWn4cm9CjaJzA.j5.QLU/O:0x1\r\n"
           . "#"]]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev2\nX-Device-Token: secret2",
 "X-Device-Id: dev3\nX-Device-Token: secret1"]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Result: MISS", "X-Result: MISS", "X-Result: UNKNOWN"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 103: $2a$, $2b$ and $2y$ hashes
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files
>>> creds
dev1:$2y$04$jFF2G2caxZRZzgKWBC.B5erAdPEVvfx9HCrC7KG9pHFhw8UirH/Tm
dev2:$2b$05$8xuITJYfnGK5n793cYmVdezrhB3li9GiA1yxYxX5mmw/aKJR.MGoC
dev3:$2a$05$4xEyD0z1/AAnPo.LJBnX3OQv43cFiszXMx2u3yWEp0VRtmJw4NIBq
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev2\nX-Device-Token: secret2",
 "X-Device-Id: dev3\nX-Device-Token: secret3"]
--- response_body eval
["ok\n", "ok\n", "ok\n"]
--- no_error_log
[error]
[alert]



=== TEST 104: device ids with ':' (MAC addresses) and of 128 bytes
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Device $iot_auth_device always;
        add_header X-Perms $iot_auth_perms always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[creds => "00:1A:2B:3C:4D:5E:$::H1\n"
           . "a:b:$::H1:7\n"
           . ("d" x 128) . ":$::H1\n"]]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Device-Id: 00:1A:2B:3C:4D:5E\nX-Device-Token: secret1",
 "X-Device-Id: a:b\nX-Device-Token: secret1",
 "X-Device-Id: " . ("d" x 128) . "\nX-Device-Token: secret1"]
--- response_headers eval
["X-Device: 00:1A:2B:3C:4D:5E\nX-Perms: 0",
 "X-Device: a:b\nX-Perms: 7",
 "X-Device: " . ("d" x 128) . "\nX-Perms: 0"]
--- response_body eval
["ok\n", "ok\n", "ok\n"]
--- no_error_log
[error]
[alert]



=== TEST 105: perms in decimal and 0x hex, last line without a newline
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Perms $iot_auth_perms always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[creds => "dev1:$::H1:10\n"
           . "dev2:$::H1:0x1F\n"
           . "dev3:$::H1:0xFFFFFFFF\n"
           . "dev4:$::H1:4294967295\n"
           . "dev5:$::H1:0"]]
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev2\nX-Device-Token: secret1",
 "X-Device-Id: dev3\nX-Device-Token: secret1",
 "X-Device-Id: dev4\nX-Device-Token: secret1",
 "X-Device-Id: dev5\nX-Device-Token: secret1"]
--- response_headers eval
["X-Perms: 10", "X-Perms: 31", "X-Perms: 4294967295", "X-Perms: 4294967295",
 "X-Perms: 0"]
--- no_error_log
[error]
[alert]



=== TEST 106: a 32-byte secret file with a trailing CRLF
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_secret_file ../html/secret;
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[secret => "0123456789abcdef0123456789abcdef\r\n"],
 [creds => "dev1:$::H1\n"]]
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: secret2"]
--- error_code eval
[200, 401]
--- no_error_log
[error]
[alert]



=== TEST 107: the three forms of iot_auth_status
--- config
    location = /s0 {
        iot_auth_status;
    }
    location = /s1 {
        iot_auth_status prometheus;
    }
    location = /s2 {
        iot_auth_status json;
    }
--- request eval
["GET /s0", "GET /s1", "GET /s2"]
--- response_headers eval
["Content-Type: text/plain; version=0.0.4",
 "Content-Type: text/plain; version=0.0.4",
 "Content-Type: application/json"]
--- response_body_like eval
['(?m)\A# HELP iot_auth_requests_total .*^iot_auth_requests_total\{zone="iot",result="hit"\} 0$',
 '(?m)\A# HELP iot_auth_requests_total .*^iot_auth_requests_total\{zone="iot",result="hit"\} 0$',
 '\A\{"iot":\{"requests":\{"hit":0,']
--- no_error_log
[error]
[alert]



=== TEST 108: every zone parameter at its limits
--- http_config
    iot_auth_zone zone=a:32k ttl=1h negative_ttl=0 refresh=100%;
    iot_auth_zone zone=b:1m ttl=1ms negative_ttl=1d refresh=1%;
--- config
    location = /t {
        iot_auth zone=a;
        iot_auth_credentials file=../html/creds;
        iot_auth_max_pending 1;
        iot_auth_require_perms 0xFFFFFFFF;
        iot_auth_wait_timeout 500ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /u {
        iot_auth zone=b;
        iot_auth_credentials file=../html/creds;
        iot_auth_max_pending 1000000;
        iot_auth_require_perms 4294967295;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[creds => "dev1:$::H1:0xffffffff\n"]]
--- request eval
["GET /t", "GET /u"]
--- more_headers eval
["X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: secret1"]
--- response_body eval
["ok\n", "ok\n"]
--- no_error_log
[error]
[alert]



=== TEST 109: iot_auth off under a server-wide iot_auth
--- config
    iot_auth zone=iot;
    iot_auth_credentials file=../html/creds;

    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /open {
        iot_auth off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- request eval
["GET /t", "GET /open"]
--- error_code eval
[401, 200]
--- no_error_log
[error]
[alert]



=== TEST 110: an empty credentials file: every device is unknown
--- config
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[creds => ""]]
--- request
GET /t
--- more_headers
X-Device-Id: dev1
X-Device-Token: secret1
--- error_code: 401
--- response_headers
X-Result: UNKNOWN
--- no_error_log
[error]
[alert]



=== TEST 111: iot_auth_lockout at its limits, inherited and turned off
--- no_repeat: its requests lock devices out
--- log_level: info
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_lockout failures=2 window=1h duration=1h;
--- config
    iot_auth zone=iot;
    iot_auth_credentials file=../html/creds;
    add_header X-Result $iot_auth_result always;

    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /off {
        iot_auth_lockout off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /one {
        iot_auth_lockout duration=1d window=1ms failures=1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /max {
        iot_auth_lockout failures=65535 window=1d duration=52w;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location = /init.txt {
        iot_auth off;
    }
--- user_files eval
[[creds => "dev1:$::H1\ndev2:$::H1\ndev3:$::H1\n"]]
--- init
IotAuthTest::steps((map { ['dev1', "bad$_", uri => '/t'] } 1 .. 3),
                   ['dev2', 'bad1', uri => '/one'],
                   ['dev2', 'bad2', uri => '/one'],
                   map { ['dev3', "bad$_", uri => '/max'] } 1 .. 3);
--- request eval
["GET /init.txt", "GET /t", "GET /off", "GET /off", "GET /t", "GET /t",
 "GET /one", "GET /max"]
--- more_headers eval
["",
 "X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: bad4",
 "X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: secret1",
 "X-Device-Id: dev1\nX-Device-Token: bad5",
 "X-Device-Id: dev2\nX-Device-Token: secret1",
 "X-Device-Id: dev3\nX-Device-Token: bad4"]
--- error_code eval
[200, 429, 401, 200, 200, 429, 429, 401]
--- response_headers eval
["", "X-Result: LOCKED", "X-Result: DENIED", "X-Result: MISS",
 "X-Result: HIT", "X-Result: LOCKED", "X-Result: LOCKED", "X-Result: DENIED"]
--- response_body_like eval
["\\A401 401 429 401 429 401 401 401\n\\z", "429 Too Many Requests",
 "401 Authorization Required", "\\Aok\n\\z", "\\Aok\n\\z",
 "429 Too Many Requests", "429 Too Many Requests",
 "401 Authorization Required"]
--- error_log
iot_auth: device "dev1" rejected: device locked out
iot_auth: device "dev2" rejected: device locked out
--- no_error_log
device "dev3" rejected: device locked out
[error]
[alert]



=== TEST 112: a valid iot_auth_redis starts without a Redis listening
--- no_repeat: its request verifies a token in a fresh zone
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:1 db=2147483647 password=p4ss:w0rd
                   connect_timeout=100ms timeout=250ms
                   revoke_channel=iot:revoked;
    iot_auth_redis_key fleet:;
    iot_auth_stale_if_error 1h;
--- config
    location = /r {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key "";
        iot_auth_stale_if_error 0;
        empty_gif;
    }
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_stale_if_error 30s;
        add_header X-Result $iot_auth_result always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- request
GET /t
--- more_headers
X-Device-Id: dev1
X-Device-Token: secret1
--- response_headers
X-Result: MISS
--- response_body
ok
--- no_error_log
[emerg]
[alert]
[crit]



=== TEST 113: iot_auth_redis on a unix socket that does not exist yet
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis unix:/nonexistent/iot-auth-redis.sock db=0;
--- config
    location = /r {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        empty_gif;
    }
    location = /t {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- user_files eval
[[creds => "dev1:$::H1\n"]]
--- request
GET /t
--- more_headers
X-Device-Id: dev1
X-Device-Token: secret1
--- response_body
ok
--- no_error_log
[emerg]
[alert]
[crit]

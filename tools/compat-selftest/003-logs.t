# error_log / no_error_log (plain lines, qr//, arrays), per-request log
# windows, grep_error_log, access_log, wait, per-block log_level.

use FindBin;
use lib "$FindBin::Bin/../../t/compat";

BEGIN {
    $ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
    $ENV{TEST_NGINX_RANDOMIZE} = 1;
}

use Test::Nginx::Socket;

repeat_each(2);

# per repetition: 6 + 5 + 2*(1+1+1) + 2 + 3 + 2 + 2
plan tests => repeat_each() * 26;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: missing file logs [error], error_page hides it from the client
--- config
    location /missing/ {
        error_page 404 = @fallback;
    }
    location @fallback {
        return 200 "fallback\n";
    }
--- request
GET /missing/nope.txt
--- response_body
fallback
--- error_log
No such file or directory
open()
--- no_error_log
[alert]
[crit]



=== TEST 2: eval patterns: qr// and arrays
--- config
    location /missing/ {
        error_page 404 = @fallback;
    }
    location @fallback {
        return 200 "fallback\n";
    }
--- request
GET /missing/nope.txt
--- error_log eval
[qr/open\(\) "[^"]+nope\.txt" failed/,
 qr/http request line: "GET \/missing\/nope\.txt HTTP\/1\.1"/]
--- no_error_log eval
qr/\[emerg\]/
--- response_body
fallback



=== TEST 3: each request of an array gets its own log window
--- config
    location /missing/ {
        error_page 404 = @fallback;
    }
    location @fallback {
        return 200 "fallback\n";
    }
--- request eval
["GET /missing/a.txt", "GET /missing/b.txt"]
--- response_body eval
["fallback\n", "fallback\n"]
--- error_log
No such file or directory



=== TEST 4: grep_error_log with $TEST_NGINX_SERVER_ROOT in the expected text
--- config
    location /missing/ {
    }
--- request
GET /missing/x.html
--- error_code: 404
--- grep_error_log eval
qr/open\(\) "[^"]*" failed/
--- grep_error_log_out
open() "$TEST_NGINX_SERVER_ROOT/html/missing/x.html" failed
--- wait: 0.05



=== TEST 5: access_log
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t?from=access
--- access_log
GET /t?from=access HTTP/1.1
--- no_access_log
GET /never



=== TEST 6: per-block log_level drops the request's debug lines
--- log_level: warn
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- no_error_log eval
qr/\[debug\].*http request line: "GET \/t /



=== TEST 7: default log level is debug
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- error_log
[debug]

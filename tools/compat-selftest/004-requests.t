# Request grammar: eval arrays, more_headers arrays, pipelining, raw and
# split requests, chunked bodies, shutdown, HTTP/0.9, abort/timeout,
# user_files eval, $TEST_NGINX_RAND_PORT_N, filters, skips, SKIP and LAST.

use FindBin;
use lib "$FindBin::Bin/../../t/compat";

BEGIN {
    $ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
    $ENV{TEST_NGINX_RANDOMIZE} = 1;
}

use Test::Nginx::Socket;

repeat_each(2);

# per repetition: blocks 1..13, then 15..18 (14 is SKIPped, 19 is after LAST)
plan tests => repeat_each()
              * (6 + 4 + 6 + 2 + 2 + 2 + 2 + 2 + 3 + 2 + 2 + 2 + 2
                 + 2 + 2 + 2 + 2);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: request eval array with array expectations
--- config
    location = /a {
        return 200 "a\n";
    }
    location = /b {
        return 404;
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^a\$", "404 Not Found"]
--- no_error_log
[error]



=== TEST 2: more_headers array, one entry per request
--- config
    location = /h {
        return 200 "$http_x_n\n";
    }
--- more_headers eval
["X-N: one", "X-N: two"]
--- request eval
["GET /h", "GET /h"]
--- response_body eval
["one\n", "two\n"]



=== TEST 3: pipelined requests share one connection
--- config
    location = /p {
        return 200 "$request_uri $http_connection\n";
    }
--- pipelined_requests eval
["GET /p?1", "GET /p?2", "GET /p?3"]
--- response_body eval
["/p?1 keep-alive\n", "/p?2 keep-alive\n", "/p?3 close\n"]



=== TEST 4: raw_request is sent verbatim
--- config
    location = /raw {
        return 200 "raw $http_x_raw $server_protocol\n";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\nX-Raw: yes\r\n\r\n"
--- response_body
raw yes HTTP/1.0



=== TEST 5: chunked request body split over two delayed packets
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
        add_header X-Body $request_body always;
    }
    location = /back {
        return 200 "ok\n";
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
[["POST /echo\n5\r\nhel", {value => "lo\r\n0\r\n\r\n", delay_before => 0.2}]]
--- response_headers
X-Body: hello



=== TEST 6: shutdown half-closes after the request
--- config
    location = /s {
        return 200 "ok\n";
    }
--- request
GET /s
--- shutdown
--- response_body
ok



=== TEST 7: HTTP/0.9 reply has no status line
--- config
    location = /n {
        return 200 "nine\n";
    }
--- raw_request eval
"GET /n\r\n"
--- http09
--- response_body
nine



=== TEST 8: abort: a delayed reply times out without failing
--- http_config
    limit_req_zone $binary_remote_addr zone=slow:1m rate=1r/m;
--- config
    location = /slow {
        limit_req zone=slow burst=5;
        empty_gif;
    }
--- request eval
["GET /slow", "GET /slow"]
--- timeout: 300ms
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 9: user_files eval with a modification date
--- config
--- user_files eval
[["dated.txt" => "old\n", "199801171935.33"]]
--- request
GET /dated.txt
--- response_headers
Last-Modified: Sat, 17 Jan 1998 19:35:33 GMT
--- response_body
old



=== TEST 10: $TEST_NGINX_RAND_PORT_1 is one free port for the whole block
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "backend $server_port\n";
        }
    }
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
--- request
GET /t
--- response_body_like: ^backend \d+$



=== TEST 11: response_body_filters
--- config
    location = /t {
        return 200 "Hello\n";
    }
--- request
GET /t
--- response_body_filters
uc
--- response_body
HELLO



=== TEST 12: skip_eval skips the given number of subtests
--- config
    location = /t {
        this_would_not_even_start;
    }
--- request
GET /t
--- skip_eval: 2: 1
--- response_body
never



=== TEST 13: skip_nginx with a false condition runs the block
--- config
    location = /t {
        return 200 "ran\n";
    }
--- request
GET /t
--- skip_nginx: 2: < 1.0.0
--- response_body
ran



=== TEST 14: SKIP blocks are dropped before counting
--- SKIP
--- config
    broken;
--- request
GET /t



=== TEST 15: todo marks subtests as todo
--- config
    location = /t {
        return 200 "todo\n";
    }
--- request
GET /t
--- todo: 2: not done yet
--- response_body
todo



=== TEST 16: response_body_unlike and error_code_like
--- config
    location = /t {
        return 418 "teapot\n";
    }
--- request
GET /t
--- error_code_like: ^4\d\d$
--- response_body_unlike: coffee



=== TEST 17: comment lines before the request line
--- config
    location = /t {
        return 200 "$args\n";
    }
--- request
# the args are
# checked below
GET /t?x=1
--- response_body
x=1



=== TEST 18: a block without config reuses the previous config
--- request
GET /t?y=2
--- response_body
y=2
--- LAST



=== TEST 19: after LAST, never run
--- config
    broken;
--- request
GET /t

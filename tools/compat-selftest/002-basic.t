# Responses, headers, bodies, colon forms, more_headers, request bodies,
# chunked replies, init, block preprocessors.  Stock nginx only.

use FindBin;
use lib "$FindBin::Bin/../../t/compat";

BEGIN {
    $ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
    $ENV{TEST_NGINX_RANDOMIZE} = 1;
}

use Test::Nginx::Socket;

our ($InitRuns, %Preprocessed);

repeat_each(2);

# per repetition: 6 + 2 + 3 + 4 + 2 + 3 + 2 + 2 + 2 + 2; plus 3 plain tests
plan tests => repeat_each() * 28 + 3;

no_shuffle();

add_block_preprocessor {
    my $block = shift;
    $Preprocessed{ $block->name }++;
};

run_tests();

is $InitRuns, 1, 'init ran once for its block, not per repetition';
is scalar(keys %Preprocessed), blocks(), 'preprocessor saw every block';
like((grep { /init/ } keys %Preprocessed)[0], qr/^TEST 7/,
     'preprocessor runs before the name gets the file prefix');

__DATA__

=== TEST 1: return, headers present and absent
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar
!X-Missing
Content-Type: text/plain
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: colon forms as a real-framework .t writes them
--- config
    location = /t {
        return 403 "ok\n";
    }
--- request
GET /t
--- error_code: 403
--- response_body_like: ^ok$



=== TEST 3: more_headers and a request body through proxy_pass to itself
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
        add_header X-Body $request_body always;
    }
    location = /back {
        return 200 "dev=$http_x_device_id len=$http_content_length\n";
    }
--- more_headers
X-Device-Id: dev1
# a comment line is skipped
--- request
POST /echo
hello world
--- response_headers
X-Body: hello world
--- response_body
dev=dev1 len=11



=== TEST 4: response_headers_like and raw_response_headers_like
--- config
    location = /t {
        add_header X-Num 12345;
        return 204;
    }
--- request
GET /t
--- error_code: 204
--- response_headers_like
X-Num: \d+
Server: nginx/.*
--- raw_response_headers_like: X-Num: 12345\r\n



=== TEST 5: HEAD has headers but no body
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
HEAD /t
--- response_body



=== TEST 6: chunked response body is decoded
--- config
    location = /c {
        sub_filter_types text/plain;
        sub_filter 'a' 'b';
        sub_filter_once off;
        return 200 "aaa\n";
    }
--- request
GET /c
--- response_headers
Transfer-Encoding: chunked
--- response_body
bbb



=== TEST 7: init runs once, after nginx started
--- init
my $pid = do {
    local @ARGV = (server_root() . '/logs/nginx.pid');
    local $/;
    <>;
};
die "nginx is not running when init runs\n"
    unless $pid && kill 0, $pid;
$main::InitRuns++;
--- config
    location = /t {
        return 200 "port=$server_port\n";
    }
--- request
GET /t
--- response_body
port=$ServerPort



=== TEST 8: $TEST_NGINX_ vars expand in the expected body
--- config
    location = /t {
        return 200 "$server_port\n";
    }
--- request
GET /t
--- response_body
$TEST_NGINX_SERVER_PORT



=== TEST 9: user_files served by the root location
--- config
--- user_files
>>> sub/dir/hello.txt
Hello, world
--- request
GET /sub/dir/hello.txt
--- response_body
Hello, world



=== TEST 10: post_setup_server_root runs after user_files, before start
--- config
--- user_files
>>> a.txt
from user_files
--- post_setup_server_root
open my $in, '<', html_dir() . '/a.txt' or die "no user file yet\n";
open my $out, '>', html_dir() . '/b.txt' or die "$!\n";
print {$out} "copied: ", <$in>;
close $out;
--- request
GET /b.txt
--- response_body
copied: from user_files

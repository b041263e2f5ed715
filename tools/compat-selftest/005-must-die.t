# --- must_die: nginx must refuse the config; --- error_log checks the
# startup error; init is not run; the next block starts a fresh nginx.

use FindBin;
use lib "$FindBin::Bin/../../t/compat";

BEGIN {
    $ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
    $ENV{TEST_NGINX_RANDOMIZE} = 1;
}

use Test::Nginx::Socket;

repeat_each(2);

# per repetition: 4 + 2 + 2 + 3 + 2
plan tests => repeat_each() * 13;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: unknown directive
--- init
die "init must not run for a must_die block\n";
--- config
    location = /t {
        no_such_directive on;
    }
--- request
GET /t
--- must_die
--- error_log
[emerg]
unknown directive "no_such_directive"
--- no_error_log
[error]



=== TEST 2: expected exit code
--- config
    location = /t {
        return a b c;
    }
--- must_die: 1
--- error_log
invalid number of arguments in "return" directive



=== TEST 3: a good config afterwards starts normally
--- config
    location = /t {
        return 200 "alive\n";
    }
--- request
GET /t
--- response_body
alive



=== TEST 4: bad main_config
--- main_config
timer_resolution abc;
--- config
--- must_die
--- error_log
[emerg]
"timer_resolution" directive invalid value



=== TEST 5: and again a good one
--- config
    location = /t {
        return 200 "alive again\n";
    }
--- request
GET /t
--- response_body
alive again

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults p_config p_files p_req herds replies_in
                   wait_lines);

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
log_level('info');
check_accum_error_log();
worker_connections(1024);

my $slow = '$2y$12$k4GlOXsA1rip8wu7Hp2Gn.XvO3BVA4LRTwJKpJWBby3otJID2.Niy';

# The blocks make all their requests for /p in --- init, so that with
# TEST_NGINX_REPEAT_EACH=2 every repetition sees the same zone.
add_block_preprocessor(sub {
    p_defaults(shift,
        main_config => "thread_pool iot_auth threads=1 max_queue=16;\n",
        http_config => <<'_EOC_',
    iot_auth_zone zone=iot:1m;
    log_format iot '$status $iot_auth_result $sent_http_retry_after';
_EOC_
        config => p_config(more => "iot_auth_max_pending 1;\n"
                                   . "access_log html/p.log iot;"),
        user_files => p_files(map { "slow-$_:$slow" } 1 .. 5));
});

run_tests();

__DATA__

=== TEST 1: more devices than pending bcrypts
--- init
main::herds([map { main::p_req("slow-$_", "slow") } 1 .. 5]);
--- request eval
["GET /init.txt", "GET /p.log", "GET /status"]
--- response_body_like eval
["\\A200 x1\n503 x4\n\\z",
 "\\A(?:503 BUSY 1\n|200 MISS -\n){5}\\z",
 "\\Amiss 1\nbusy 4\nmatch 1\nentries [1-5]\n\\z"]
--- error_log eval
qr/\[warn\] .*iot_auth: device "slow-\d" rejected: too many verifications/
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: the client aborts during bcrypt
--- init
main::herds([main::p_req("slow-1", "slow", abort_after => 0.05)]);
main::wait_lines("p.log", 1);
main::replies_in("last.txt", ["slow-1", "slow"]);
main::wait_lines("p.log", 2);
--- request eval
["GET /init.txt", "GET /p.log", "GET /last.txt", "GET /status"]
--- response_body_like eval
["\\Aaborted x1\n\\z", "\\A\\d{3} MISS -\n200 HIT -\n\\z",
 "\\A200 HIT ok\n\\z", "\\Ahit 1\nmiss 1\nmatch 1\nentries 1\n\\z"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: the aborted owner's bcrypt serves a waiter
--- init
main::herds([main::p_req("slow-1", "slow", abort_after => 0.05),
             main::p_req("slow-1", "slow")]);
main::wait_lines("p.log", 2);
main::replies_in("last.txt", ["slow-1", "slow"]);
main::wait_lines("p.log", 3);
--- request eval
["GET /init.txt", "GET /p.log", "GET /last.txt", "GET /status"]
--- response_body_like eval
["\\A200 x1\naborted x1\n\\z",
 "\\A(?:\\d{3} MISS -\n200 WAIT -\n|200 WAIT -\n\\d{3} MISS -\n)"
 . "200 HIT -\n\\z",
 "\\A200 HIT ok\n\\z",
 "\\Ahit 1\nmiss 1\nwait 1\nmatch 1\nentries 1\n\\z"]
--- no_error_log
[error]
[alert]
[crit]

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults p_config p_files write_html worker_pids);
use IotAuthRedis qw(http_get);

# iot_auth_bcrypt_priority: the thread that runs a bcrypt lowers its own
# CPU priority first, the event loop keeps its own.  One worker with one
# pool thread: after a verification, the threads of the worker are the
# event loop (its tid is the pid) and the pool's.

master_on();
workers(1);
repeat_each(1);
no_shuffle();

# "loop nice=N policy=P" and "pool nice=N policy=P", from /proc (policy 0
# SCHED_OTHER, 3 SCHED_BATCH, 5 SCHED_IDLE)
sub threads {
    my ($pid) = worker_pids();

    my @lines;
    for my $task (sort glob "/proc/$pid/task/*") {
        open my $s, '<', "$task/stat" or next;
        my ($tid, $rest) = <$s> =~ /^(\d+) \(.*\) (.*)$/s or next;
        my @f = split ' ', $rest;
        push @lines, sprintf "%s nice=%d policy=%d\n",
                             $tid == $pid ? 'loop' : 'pool', $f[16], $f[38];
    }

    return join '', sort @lines;
}

sub verify_then_threads {
    my $res = http_get('/p', { 'X-Device-Id' => 'dev1',
                               'X-Device-Token' => 'secret1' });
    write_html('threads.txt', "verified: $res->{status}\n" . threads());
}

add_block_preprocessor(sub {
    my $block = shift;

    p_defaults($block,
        main_config => "thread_pool iot_auth threads=1;\n",
        defined $block->must_die
        ? ()
        : (init => 'main::verify_then_threads();',
           request => 'GET /threads.txt'));
});

run_tests();

__DATA__

=== TEST 1: by default a bcrypt thread runs 19 nice levels below the event loop
--- response_body
verified: 200
loop nice=0 policy=0
pool nice=19 policy=0
--- no_error_log
[error]
[warn]



=== TEST 2: nice=N counts from the event loop's nice value (worker_priority)
--- main_config
thread_pool iot_auth threads=1;
worker_priority -3;
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority nice=5;
--- response_body
verified: 200
loop nice=-3 policy=0
pool nice=2 policy=0
--- no_error_log
[error]
[warn]



=== TEST 2a: nice values stop at 19
--- main_config
thread_pool iot_auth threads=1;
worker_priority 5;
--- response_body
verified: 200
loop nice=5 policy=0
pool nice=19 policy=0
--- no_error_log
[error]
[warn]



=== TEST 3: nice=10
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority nice=10;
--- response_body
verified: 200
loop nice=0 policy=0
pool nice=10 policy=0
--- no_error_log
[error]
[warn]



=== TEST 4: idle: SCHED_IDLE
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority idle;
--- response_body
verified: 200
loop nice=0 policy=0
pool nice=0 policy=5
--- no_error_log
[error]
[warn]



=== TEST 5: batch: SCHED_BATCH
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority batch;
--- response_body
verified: 200
loop nice=0 policy=0
pool nice=0 policy=3
--- no_error_log
[error]
[warn]



=== TEST 6: off: the thread keeps the event loop's priority
--- main_config
thread_pool iot_auth threads=1;
worker_priority -3;
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority off;
--- response_body
verified: 200
loop nice=-3 policy=0
pool nice=-3 policy=0
--- no_error_log
[error]
[warn]



=== TEST 7: nice=0 is refused
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority nice=0;
--- must_die
--- error_log
[emerg]
invalid value "nice=0", it must be "nice=1" to "nice=19", "batch", "idle" or "off"



=== TEST 8: nice=20 is refused
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority nice=20;
--- must_die
--- error_log
invalid value "nice=20", it must be "nice=1" to "nice=19", "batch", "idle" or "off"



=== TEST 9: a negative nice is refused
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority nice=-5;
--- must_die
--- error_log
invalid value "nice=-5", it must be "nice=1" to "nice=19", "batch", "idle" or "off"



=== TEST 10: an unknown value is refused
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority low;
--- must_die
--- error_log
invalid value "low", it must be "nice=1" to "nice=19", "batch", "idle" or "off"



=== TEST 11: twice is refused
--- http_config
iot_auth_zone zone=iot:1m;
iot_auth_bcrypt_priority idle;
iot_auth_bcrypt_priority off;
--- must_die
--- error_log
"iot_auth_bcrypt_priority" directive is duplicate



=== TEST 12: only in http{}
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_bcrypt_priority idle;
    }
--- must_die
--- error_log
"iot_auth_bcrypt_priority" directive is not allowed here

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(by_worker write_html p_defaults p_config);

# The per-worker counts of 004-counters.t with four workers.

master_on();
workers(4);
timeout(30);
repeat_each(1);
no_shuffle();
no_long_string();

add_block_preprocessor(sub {
    IotAuthTest::p_defaults(shift,
        main_config => "thread_pool iot_auth threads=1;\n",
        config => IotAuthTest::p_config() . <<'_EOC_');
    location = /pid {
        return 200 "$pid";
    }
_EOC_
});

our @Good = ('/p', 'dev1', 'secret1');
our @Bad = ('/p', 'dev2', 'wrongtoken');

run_tests();

__DATA__

=== TEST 1: the counts of four workers add up, on every worker's status page
--- init
my @bodies;
my $out = IotAuthTest::by_worker([ [ \@::Good ],
                                   [ (\@::Good) x 2 ],
                                   [ (\@::Good) x 3, \@::Bad ],
                                   [ (\@::Good) x 4, \@::Bad ] ]);
$out .= IotAuthTest::by_worker([ map { [ ['/status'] ] } 1 .. 4 ],
                               \@bodies);
$out .= "same totals in every worker: "
        . ((grep { $_ eq $bodies[0] } @bodies) == 4 ? "yes" : "no") . "\n";
IotAuthTest::write_html('init.txt', $out);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["worker 0 /p: 200 MISS
worker 1 /p: 200 HIT
worker 1 /p: 200 HIT
worker 2 /p: 200 HIT
worker 2 /p: 200 HIT
worker 2 /p: 200 HIT
worker 2 /p: 401 DENIED
worker 3 /p: 200 HIT
worker 3 /p: 200 HIT
worker 3 /p: 200 HIT
worker 3 /p: 200 HIT
worker 3 /p: 401 NEGATIVE
worker 0 /status: 200 -
worker 1 /status: 200 -
worker 2 /status: 200 -
worker 3 /status: 200 -
same totals in every worker: yes
",
"hit 9
miss 1
negative 1
denied 1
match 1
mismatch 1
entries 2
"]
--- no_error_log
[error]
[alert]

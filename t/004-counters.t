use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(by_worker write_html worker_pids p_defaults p_config);
use Time::HiRes qw(time sleep);

# Each worker counts its own requests in the zone; the status page sums
# the counts of every worker, of workers gone (reload, crash), and gives
# the same totals whichever worker answers it.  Requests go to chosen
# workers over keep-alive connections pinned to them.

sub root { $ENV{TEST_NGINX_SERVER_ROOT} }

sub master_pid {
    open my $fh, '<', root() . '/logs/nginx.pid' or die "nginx.pid: $!";
    chomp(my $pid = <$fh>);
    return $pid;
}

# waits (10 s at most) until $n workers run, none of them in @gone
sub wait_workers {
    my ($n, @gone) = @_;

    my %gone = map { $_ => 1 } @gone;
    my $deadline = time + 10;

    while (time < $deadline) {
        my @all = worker_pids();
        my @pids = grep { !$gone{$_} } @all;
        return if @pids == $n && @all == $n;
        sleep 0.05;
    }

    die "no $n new workers";
}

our @Good = ('/p', 'dev1', 'secret1');
our @Bad = ('/p', 'dev1', 'wrongtoken');

master_on();
workers(2);
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

run_tests();

__DATA__

=== TEST 1: the counts of both workers add up, on either worker's status page
--- init
my @bodies;
my $out = IotAuthTest::by_worker([ [ (\@::Good) x 3 ],
                                   [ (\@::Good) x 5, \@::Bad ] ]);
$out .= IotAuthTest::by_worker([ [ ['/status'] ], [ ['/status'] ] ],
                               \@bodies);
$out .= "same totals in both workers: "
        . ($bodies[0] eq $bodies[1] ? "yes" : "no") . "\n";
IotAuthTest::write_html('init.txt', $out);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["worker 0 /p: 200 MISS
worker 0 /p: 200 HIT
worker 0 /p: 200 HIT
worker 1 /p: 200 HIT
worker 1 /p: 200 HIT
worker 1 /p: 200 HIT
worker 1 /p: 200 HIT
worker 1 /p: 200 HIT
worker 1 /p: 401 DENIED
worker 0 /status: 200 -
worker 1 /status: 200 -
same totals in both workers: yes
",
"hit 7
miss 1
denied 1
match 1
mismatch 1
entries 1
"]
--- no_error_log
[error]
[alert]



=== TEST 2: counts outlive the workers that made them: a reload, a worker killed
--- init
my $out = IotAuthTest::by_worker([ [ (\@::Good) x 2 ], [ (\@::Good) x 2 ] ]);

my @old = worker_pids();
kill 'HUP', ::master_pid() or die "HUP: $!";
::wait_workers(2, @old);
$out .= IotAuthTest::by_worker([ [ (\@::Good) x 2 ], [ (\@::Good) x 2 ] ]);

my ($victim) = worker_pids();
kill 'KILL', $victim or die "KILL: $!";
::wait_workers(2, $victim);
$out .= IotAuthTest::by_worker([ [ \@::Good ], [ \@::Good, \@::Bad ] ]);

IotAuthTest::write_html('init.txt', $out);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["worker 0 /p: 200 MISS
worker 0 /p: 200 HIT
worker 1 /p: 200 HIT
worker 1 /p: 200 HIT
worker 0 /p: 200 HIT
worker 0 /p: 200 HIT
worker 1 /p: 200 HIT
worker 1 /p: 200 HIT
worker 0 /p: 200 HIT
worker 1 /p: 200 HIT
worker 1 /p: 401 DENIED
",
"hit 9
miss 1
denied 1
match 1
mismatch 1
entries 1
"]
--- no_error_log
[error]
could not allocate counters

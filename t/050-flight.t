use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest ();
use List::Util ();

# Single-flight: herds of concurrent requests for cold devices, the
# owner of a verification aborted or killed, a reload mid-herd.
# t/051-flight-4-workers.t runs these blocks with four workers: it sets
# $Workers (default 2) and runs this file.

our $Workers //= 2;

# Under valgrind nginx runs some 50 times slower: cheaper hashes and
# smaller herds keep the same assertions within the time limits.
our $VG = $ENV{TEST_NGINX_USE_VALGRIND};

# bcrypt hashes of "s3cret": a slow one (cost 12, ~180 ms) and a fast one
# (cost 10, ~45 ms); cost 10 and 4 under valgrind
our $SLOW = $VG
    ? '$2y$10$opcT441CQPmGUeyj37TSQuPYL0xwPR48/iX.sWTP1H/krKfDCyixe'
    : '$2y$12$VrY.mntx6iuaItsozOX7vu5ausDjfmVLEyVt3a2364JKtg239cx5C';
our $FAST = $VG
    ? '$2y$04$G8XvsXeTHOhr807iTE5Yy.RSigDPv8K4Sgg17BEZe2mwB6PeLKHh.'
    : '$2y$10$opcT441CQPmGUeyj37TSQuPYL0xwPR48/iX.sWTP1H/krKfDCyixe';

our $HERD = $VG ? 20 : 200;
our $DEVICES = $VG ? 10 : 40;
our $WAIT = $VG ? 120 : 30;

our $Creds = join '', (map { "$_:$SLOW\n" } qw(slow pair gone victim reload
                                               lat)),
                      (map { sprintf "d%02d:$FAST\n", $_ } 1 .. $DEVICES);

master_on();
workers($Workers);
timeout($VG ? 60 : 10);
worker_connections(1024);
repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', 'thread_pool iot_auth threads=2;')
        unless defined $block->main_config;

    $block->set_value('http_config', <<'_EOC_')
    iot_auth_zone zone=iot:1m ttl=60s;
    log_format herd '$msec $pid $iot_auth_result';
_EOC_
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_')
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_wait_timeout 1s;
        access_log logs/herd.log herd;
        empty_gif;
    }

    location = /status {
        iot_auth_status;
    }

    location = /pid {
        return 200 "$pid";
    }
_EOC_
        unless defined $block->config;

    $block->set_value('user_files', ">>> creds\n$Creds")
        unless defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: 200 concurrent requests for one cold device run one bcrypt
--- init
my @r = IotAuthTest::herd(
    [ map { IotAuthTest::p_req('slow', 's3cret') } 1 .. $::HERD ],
    timeout => $::WAIT);
IotAuthTest::write_html('herd.txt', IotAuthTest::tally(@r));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:$::HERD\n\$",
 qr/(?ms)result="miss"\} 1\n.*result="wait"\} [1-9]\d*\n.*outcome="match"\} 1\n.*outcome="mismatch"\} 0\n.*^iot_auth_flights\{zone="iot"\} 0\n.*^iot_auth_waiters\{zone="iot"\} 0$/]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: 40 devices with 10 concurrent requests each run 40 bcrypts
--- init
my @reqs;
for my $i (1 .. 10) {
    push @reqs, map { IotAuthTest::p_req(sprintf('d%02d', $_), 's3cret') }
                    1 .. $::DEVICES;
}
IotAuthTest::write_html('herd.txt',
    IotAuthTest::tally(IotAuthTest::herd(\@reqs, timeout => $::WAIT)));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:" . 10 * $::DEVICES . "\n\$",
 qr/(?ms)result="miss"\} $::DEVICES\n.*outcome="match"\} $::DEVICES\n.*outcome="mismatch"\} 0\n.*^iot_auth_flights\{zone="iot"\} 0\n.*^iot_auth_waiters\{zone="iot"\} 0$/]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: a wrong token in flight for the same device does not hold up the right one
--- init
my @reqs = map { (IotAuthTest::p_req('pair', 's3cret'),
                  IotAuthTest::p_req('pair', 'wrong')) } 1 .. 10;
my @r = IotAuthTest::herd(\@reqs, timeout => $::WAIT);
IotAuthTest::write_html('good.txt',
    IotAuthTest::tally(@r[grep { $_ % 2 == 0 } 0 .. $#r]));
IotAuthTest::write_html('bad.txt',
    IotAuthTest::tally(@r[grep { $_ % 2 == 1 } 0 .. $#r]));
--- request eval
["GET /good.txt", "GET /bad.txt", "GET /status"]
--- response_body_like eval
["^200:10\n\$", "^401:10\n\$",
 qr/(?ms)outcome="match"\} 1\n.*outcome="mismatch"\} 1$/]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: the owner's client hangs up, its waiters are still answered
--- init
my @reqs = (IotAuthTest::p_req('gone', 's3cret', abort_after => 0.02),
            map { IotAuthTest::p_req('gone', 's3cret', delay => 0.01) }
                1 .. 20);
IotAuthTest::write_html('herd.txt',
    IotAuthTest::tally(IotAuthTest::herd(\@reqs, timeout => $::WAIT)));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:20\naborted:1\n\$",
 qr/(?ms)result="wait"\} [1-9]\d*\n.*outcome="match"\} 1\n.*outcome="mismatch"\} 0$/]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: the owner's worker is killed mid-bcrypt, a waiter takes over
--- init
# keep-alive connections pinned to two workers: the owner's request and
# ten waiters in one, ten waiters in the other, which must take over
my $pinned = IotAuthTest::pinned_conns(workers => 2, per => 11);
my ($mine, $other) = sort keys %$pinned;
my ($first, @same) = @{ $pinned->{$mine} };
my @reqs = (IotAuthTest::p_req('victim', 's3cret', conn => $first),
            map { IotAuthTest::p_req('victim', 's3cret', delay => 0.03,
                                     conn => $_) }
                @same, @{ $pinned->{$other} }[0 .. 9]);
my $killed = 0;
my @r = IotAuthTest::herd(\@reqs, timeout => $::WAIT, at => [0.08, sub {
    my $pid = IotAuthTest::bcrypt_owner('victim')
        or die "no bcrypt owner found";
    kill 'KILL', $pid or die "kill $pid: $!";
    $killed = $pid;
}]);
my @waiters = @r[1 .. $#r];
my @theirs = @r[@same + 1 .. $#r];
my @answered = grep { $_->{status} eq '200' } @waiters;
my @other = grep { $_->{status} !~ /^(200|none)$/ } @waiters;
my $slowest = List::Util::max(map { $_->{time} } @answered) // 0;
warn sprintf "# killed owner %d: %d waiters answered, slowest %.3f s\n",
             $killed, scalar @answered, $slowest;
my $taken = IotAuthTest::logged(qr/takes over a verification /
                                . qr/abandoned by process $killed/);
IotAuthTest::write_html('herd.txt', sprintf
    "owner:%s answered:%s other:%d slow:%d taken over:%s\n",
    $r[0]{status},
    $killed == $mine && !grep({ $_->{status} ne '200' } @theirs)
        ? 'yes' : 'no',
    scalar @other, $slowest > ($::VG ? 60 : 3) ? 1 : 0,
    $taken ? 'yes' : 'no');
--- request eval
["GET /herd.txt", "GET /status", "GET /p"]
--- more_headers eval
["", "", IotAuthTest::creds('victim', 's3cret')]
--- response_body_like eval
["^owner:none answered:yes other:0 slow:0 taken over:yes\n\$",
 qr/(?ms)outcome="match"\} 1\n.*^iot_auth_flights\{zone="iot"\} 0$/,
 ""]
--- no_error_log
[error]
[crit]



=== TEST 6: a reload in the middle of a herd strands nobody
--- init
my @reqs = ((map { IotAuthTest::p_req('reload', 's3cret') } 1 .. 60),
            (map { IotAuthTest::p_req('reload', 's3cret', delay => 0.3) }
                 1 .. 20));
my @r = IotAuthTest::herd(\@reqs, timeout => $::WAIT,
    at => [0.05, sub { kill 'HUP', IotAuthTest::master_pid() }]);
IotAuthTest::write_html('herd.txt', IotAuthTest::tally(@r));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:80\n\$",
 qr/(?ms)outcome="match"\} 1\n.*outcome="mismatch"\} 0\n.*^iot_auth_flights\{zone="iot"\} 0\n.*^iot_auth_waiters\{zone="iot"\} 0$/]
--- wait: 0.5
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: waiters resume right after the verdict (wake-up latency)
--- init
my @r = IotAuthTest::herd(
    [ map { IotAuthTest::p_req('lat', 's3cret') } 1 .. $::HERD / 2 ],
    timeout => $::WAIT);
my (%owner, @waits);
open my $fh, '<', IotAuthTest::log_file('herd.log') or die "herd.log: $!";
while (<$fh>) {
    my ($msec, $pid, $result) = split;
    if ($result eq 'MISS') {
        %owner = (msec => $msec, pid => $pid);
    } elsif ($result eq 'WAIT') {
        push @waits, [$msec, $pid];
    }
}
my @same = map { $_->[0] - $owner{msec} }
           grep { $_->[1] == $owner{pid} } @waits;
my @other = map { $_->[0] - $owner{msec} }
            grep { $_->[1] != $owner{pid} } @waits;
warn sprintf "# wake-up after the verdict: same worker max %.3f s (%d), "
             . "other worker max %.3f s (%d)\n",
             List::Util::max(@same) // 0, scalar @same,
             List::Util::max(@other) // 0, scalar @other;
IotAuthTest::write_html('herd.txt', IotAuthTest::tally(@r));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:" . $::HERD / 2 . "\n\$", qr/(?ms)outcome="match"\} 1$/]
--- no_error_log
[error]
[alert]
[crit]

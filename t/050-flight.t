use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(herd tally write_html);
use List::Util qw(max);

# bcrypt hashes of "s3cret" at cost 12 (~180 ms) and cost 10 (~45 ms)
our $SLOW = '$2y$12$VrY.mntx6iuaItsozOX7vu5ausDjfmVLEyVt3a2364JKtg239cx5C';
our $FAST = '$2y$10$opcT441CQPmGUeyj37TSQuPYL0xwPR48/iX.sWTP1H/krKfDCyixe';

our $Creds = join '', (map { "$_:$SLOW\n" } qw(slow pair gone victim reload
                                               lat)),
                      (map { sprintf "d%02d:$FAST\n", $_ } 1 .. 40);

sub device {
    my ($id, %more) = @_;
    my $token = delete $more{token} // 's3cret';

    return { uri => '/p', %more,
             headers => { 'X-Device-Id' => $id, 'X-Device-Token' => $token } };
}

sub log_file {
    return "$ENV{TEST_NGINX_SERVER_ROOT}/logs/$_[0]";
}

sub logged {
    my ($re) = @_;

    open my $fh, '<', log_file('error.log') or die "error.log: $!";
    while (<$fh>) {
        return 1 if $_ =~ $re;
    }
    return 0;
}

sub master_pid {
    open my $fh, '<', log_file('nginx.pid') or die "nginx.pid: $!";
    chomp(my $pid = <$fh>);
    return $pid;
}

sub bcrypt_owner {
    my ($device) = @_;

    open my $fh, '<', log_file('error.log') or die "error.log: $!";
    while (<$fh>) {
        return $1 if /\] (\d+)#\d+: .*bcrypt posted for device "\Q$device\E"/;
    }
    return undef;
}

master_on();
workers(2);
worker_connections(1024);
repeat_each(1);
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
_EOC_
        unless defined $block->config;

    $block->set_value('user_files', ">>> creds\n$Creds")
        unless defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: 200 concurrent requests for one cold device run one bcrypt
--- init
write_html('herd.txt', tally(herd([ map { ::device('slow') } 1 .. 200 ])));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:200\n\$",
 qr/(?ms)result="miss"\} 1\n.*result="wait"\} [1-9]\d*\n.*outcome="match"\} 1\n.*outcome="mismatch"\} 0\n.*^iot_auth_flights\{zone="iot"\} 0\n.*^iot_auth_waiters\{zone="iot"\} 0$/]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: 40 devices with 10 concurrent requests each run 40 bcrypts
--- init
my @reqs;
for my $i (1 .. 10) {
    push @reqs, map { ::device(sprintf 'd%02d', $_) } 1 .. 40;
}
write_html('herd.txt', tally(herd(\@reqs)));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:400\n\$",
 qr/(?ms)result="miss"\} 40\n.*outcome="match"\} 40\n.*outcome="mismatch"\} 0\n.*^iot_auth_flights\{zone="iot"\} 0\n.*^iot_auth_waiters\{zone="iot"\} 0$/]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: a wrong token in flight for the same device does not hold up the right one
--- init
my @reqs = map { (::device('pair'), ::device('pair', token => 'wrong')) } 1 .. 10;
my @r = herd(\@reqs);
write_html('good.txt', tally(@r[grep { $_ % 2 == 0 } 0 .. $#r]));
write_html('bad.txt', tally(@r[grep { $_ % 2 == 1 } 0 .. $#r]));
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
my @reqs = (::device('gone', abort_after => 0.02),
            map { ::device('gone', delay => 0.01) } 1 .. 20);
write_html('herd.txt', tally(herd(\@reqs)));
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
my @reqs = (::device('victim'), map { ::device('victim', delay => 0.03) } 1 .. 20);
my $killed;
my @r = herd(\@reqs, at => [0.08, sub {
    my $pid = ::bcrypt_owner('victim') or die "no bcrypt owner found";
    kill 'KILL', $pid or die "kill $pid: $!";
    $killed = $pid;
}]);
my @waiters = @r[1 .. $#r];
my @answered = grep { $_->{status} eq '200' } @waiters;
my @other = grep { $_->{status} !~ /^(200|none)$/ } @waiters;
my $slowest = max(map { $_->{time} } @answered) // 0;
warn sprintf "# killed owner %d: %d waiters answered, slowest %.3f s\n",
             $killed, scalar @answered, $slowest;
write_html('herd.txt', sprintf "owner:%s answered:%s other:%d slow:%d "
                                . "taken over:%s\n",
           $r[0]{status}, @answered ? 'yes' : 'no', scalar @other,
           $slowest > 3 ? 1 : 0, ::logged(qr/takes over a verification /
                                          . qr/abandoned by process $killed/)
                                 ? 'yes' : 'no');
--- request eval
["GET /herd.txt", "GET /status", "GET /p"]
--- more_headers eval
["", "", "X-Device-Id: victim\nX-Device-Token: s3cret"]
--- response_body_like eval
["^owner:none answered:yes other:0 slow:0 taken over:yes\n\$",
 qr/(?ms)outcome="match"\} 1\n.*^iot_auth_flights\{zone="iot"\} 0$/,
 ""]
--- no_error_log
[error]
[crit]



=== TEST 6: a reload in the middle of a herd strands nobody
--- init
my @reqs = ((map { ::device('reload') } 1 .. 60),
            (map { ::device('reload', delay => 0.3) } 1 .. 20));
my @r = herd(\@reqs, at => [0.05, sub { kill 'HUP', ::master_pid() }]);
write_html('herd.txt', tally(@r));
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
my @r = herd([ map { ::device('lat') } 1 .. 100 ]);
my (%owner, @waits);
open my $fh, '<', ::log_file('herd.log') or die "herd.log: $!";
while (<$fh>) {
    my ($msec, $pid, $result) = split;
    if ($result eq 'MISS') {
        %owner = (msec => $msec, pid => $pid);
    } elsif ($result eq 'WAIT') {
        push @waits, [$msec, $pid];
    }
}
my @same = map { $_->[0] - $owner{msec} } grep { $_->[1] == $owner{pid} } @waits;
my @other = map { $_->[0] - $owner{msec} } grep { $_->[1] != $owner{pid} } @waits;
warn sprintf "# wake-up after the verdict: same worker max %.3f s (%d), "
             . "other worker max %.3f s (%d)\n",
             max(@same) // 0, scalar @same, max(@other) // 0, scalar @other;
write_html('herd.txt', tally(@r));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:100\n\$", qr/(?ms)outcome="match"\} 1$/]
--- no_error_log
[error]
[alert]
[crit]

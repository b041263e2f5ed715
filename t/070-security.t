use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(write_html worker_pids pinned_conns ka_send ka_status
                   herd tally bcrypt_hash master_pid);
use IotAuthRedis qw(http_get);
use Time::HiRes qw(time sleep);

# Decisions are recomputed, never remembered: each block pins one way a
# request could once be let in, or a device locked out, by state left
# behind by another request, another store or an old hash.  Blocks that
# need a request to wait in a given worker use keep-alive connections
# pinned to that worker and a thread pool filled with slow hashes, so
# that the order of events does not depend on timing.

our $VG = $ENV{TEST_NGINX_USE_VALGRIND};

our $Old = bcrypt_hash('oldtoken');
our $New = bcrypt_hash('newtoken');
our $Rehash = bcrypt_hash('oldtoken', 5);
our $Slow = bcrypt_hash('slow', $VG ? 11 : 13);

# rewrites html/NAME and reloads nginx; returns once every worker is new
sub rewrite_and_reload {
    my ($name, $text) = @_;

    write_html($name, $text);

    my %old = map { $_ => 1 } worker_pids();
    kill 'HUP', master_pid() or die "HUP: $!";

    my $deadline = time + 10;
    while (time < $deadline) {
        my @pids = worker_pids();
        return if @pids && !grep { $old{$_} } @pids;
        sleep 0.05;
    }
    die "the reload did not replace the workers";
}

# one request on a new connection: "status result"
sub ask {
    my ($uri, $dev, $token) = @_;

    my $res = http_get($uri, { 'X-Device-Id' => $dev,
                               'X-Device-Token' => $token });
    return "$res->{status} " . ($res->{headers}{'x-result'} // '-');
}

# the number of a gauge of the status page
sub gauge {
    my ($name) = @_;

    my ($n) = http_get('/status')->{body} =~ /^iot_auth_$name\{[^}]*\} (\d+)/m;
    return $n // -1;
}

# waits (10 s at most) until a gauge of the status page reaches $n
sub wait_gauge {
    my ($name, $n) = @_;

    my $deadline = time + ($VG ? 60 : 10);
    while (time < $deadline) {
        return 1 if gauge($name) == $n;
        sleep 0.01;
    }
    die "iot_auth_$name did not reach $n";
}

# status and result of the next response on a pinned connection
sub answer {
    my ($sock) = @_;

    my ($status, undef, $h) = ka_status($sock, $VG ? 300 : 60);
    return "$status " . ($h->{'x-result'} // '-');
}

sub creds_req {
    my ($sock, $dev, $token) = @_;

    ka_send($sock, '/p', 'X-Device-Id' => $dev, 'X-Device-Token' => $token);
}

master_on();
workers(2);
timeout($VG ? 300 : 30);
worker_connections(1024);
repeat_each(1);
no_shuffle();
no_long_string();
log_level('info');

add_block_preprocessor(sub {
    my ($block) = @_;

    $block->set_value(main_config => 'thread_pool iot_auth threads=1;')
        if !defined $block->main_config;
    $block->set_value(http_config => 'iot_auth_zone zone=iot:1m;')
        if !defined $block->http_config;
});

run_tests();

__DATA__

=== TEST 1: a token revoked by a new hash is refused to the request waiting with it
--- http_config
    iot_auth_zone zone=iot:1m ttl=60s;
--- config
    location = /pid {
        return 200 "$pid";
    }

    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_wait_timeout 60s;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }

    location = /status {
        iot_auth_status;
    }
--- user_files eval
[[creds => "dev:$::Old\nslow:$::Slow\n"]]
--- init
my $out = "verified: " . ::ask('/p', 'dev', 'oldtoken') . "\n";

::rewrite_and_reload('creds', "dev:$::New\nslow:$::Slow\n");

# worker A: its one pool thread busy with four slow wrong tokens, then R0
# (the old token) owns a flight queued behind them; worker B: R1 (the old
# token too) waits for R0's flight while R2 (the new token) is verified on
# B's idle thread
my $conns = IotAuthTest::pinned_conns(per => 5);
my ($a, $b) = sort keys %$conns;
my @fill = @{ $conns->{$a} }[0 .. 3];
my ($r0, $r1, $r2) = ($conns->{$a}[4], @{ $conns->{$b} }[0, 1]);

::creds_req($fill[$_], 'slow', "wrong-$_") for 0 .. 3;
::wait_gauge('flights', 4);
::creds_req($r0, 'dev', 'oldtoken');
::wait_gauge('flights', 5);
::creds_req($r1, 'dev', 'oldtoken');
::wait_gauge('waiters', 1);
::creds_req($r2, 'dev', 'newtoken');

$out .= "R2 new token: " . ::answer($r2) . "\n";
$out .= "R1 old token, waiting: " . ::answer($r1) . "\n";
$out .= "R0 old token, owner: " . ::answer($r0) . "\n";
::answer($_) for @fill;

IotAuthTest::write_html('result.txt', $out);
--- request
GET /result.txt
--- response_body
verified: 200 MISS
R2 new token: 200 MISS
R1 old token, waiting: 401 NEGATIVE
R0 old token, owner: 401 DENIED
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: another store's "unknown device" leaves the device's verdict and shield alone
--- config
    location = /a {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds-a;
        iot_auth_lockout failures=3 window=1m duration=1m;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }

    location = /b {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds-b;
        iot_auth_lockout failures=3 window=1m duration=1m;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- user_files eval
[['creds-a' => "dev:$::Old\n"], ['creds-b' => "other:$::Old\n"]]
--- init
my @lines = (
    "a good: " . ::ask('/a', 'dev', 'oldtoken'),
    "b unknown: " . ::ask('/b', 'dev', 'oldtoken'),
    map({ "a wrong: " . ::ask('/a', 'dev', "wrong-$_") } 1 .. 3),
    "a good: " . ::ask('/a', 'dev', 'oldtoken'),
    "a other wrong: " . ::ask('/a', 'dev', 'wrong-4'),
);
IotAuthTest::write_html('result.txt', join '', map { "$_\n" } @lines);
--- request
GET /result.txt
--- response_body
a good: 200 MISS
b unknown: 401 UNKNOWN
a wrong: 401 DENIED
a wrong: 401 DENIED
a wrong: 401 DENIED
a good: 200 HIT
a other wrong: 429 LOCKED



=== TEST 3: a token retired by a new hash keeps no shield and counts no failure
--- http_config
    iot_auth_zone zone=iot:1m negative_ttl=0;
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_lockout failures=3 window=1m duration=1m;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }

    location = /status {
        iot_auth_status;
    }
--- user_files eval
[[creds => "dev:$::Old\n"]]
--- init
my @lines = ("old token: " . ::ask('/p', 'dev', 'oldtoken'));
::rewrite_and_reload('creds', "dev:$::New\n");
push @lines, map { "old token after the change: "
                   . ::ask('/p', 'dev', 'oldtoken') } 1 .. 5;
push @lines, "new token: " . ::ask('/p', 'dev', 'newtoken');
push @lines, map { "guess: " . ::ask('/p', 'dev', "wrong-$_") } 1 .. 3;
push @lines, "old token while locked: " . ::ask('/p', 'dev', 'oldtoken');
push @lines, "new token while locked: " . ::ask('/p', 'dev', 'newtoken');
IotAuthTest::write_html('result.txt', join '', map { "$_\n" } @lines);
--- request
GET /result.txt
--- response_body
old token: 200 MISS
old token after the change: 401 DENIED
old token after the change: 401 DENIED
old token after the change: 401 DENIED
old token after the change: 401 DENIED
old token after the change: 401 DENIED
new token: 200 MISS
guess: 401 DENIED
guess: 401 DENIED
guess: 401 DENIED
old token while locked: 429 LOCKED
new token while locked: 200 HIT



=== TEST 4: a new hash of the same secret keeps the device working, after one bcrypt
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_lockout failures=3 window=1m duration=1m;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- user_files eval
[[creds => "dev:$::Old\n"]]
--- init
my @lines = ("before: " . ::ask('/p', 'dev', 'oldtoken'));
::rewrite_and_reload('creds', "dev:$::Rehash\n");
push @lines, map { "after the re-hash: " . ::ask('/p', 'dev', 'oldtoken') }
                 1 .. 2;
IotAuthTest::write_html('result.txt', join '', map { "$_\n" } @lines);
--- request
GET /result.txt
--- response_body
before: 200 MISS
after the re-hash: 200 MISS
after the re-hash: 200 HIT



=== TEST 5: the waiters of a failed verification get its outcome, without a bcrypt each
--- http_config
    iot_auth_zone zone=iot:1m negative_ttl=0;
--- config
    location = /pid {
        return 200 "$pid";
    }

    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_wait_timeout 60s;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }

    location = /status {
        iot_auth_status;
    }
--- user_files eval
[[creds => "dev:$::Old\nslow:$::Slow\n"]]
--- init
# both workers' pool threads busy with a slow wrong token: the herd's
# flight waits in the queue while all 20 requests join it
my $conns = IotAuthTest::pinned_conns(per => 1);
my @fill = map { $conns->{$_}[0] } sort keys %$conns;
::creds_req($fill[$_], 'slow', "wrong-$_") for 0 .. 1;
::wait_gauge('flights', 2);

my @r = IotAuthTest::herd([ map { IotAuthTest::p_req('dev', 'wrong') } 1 .. 20 ],
                          timeout => $::VG ? 300 : 60);
::answer($_) for @fill;

IotAuthTest::write_html('result.txt', IotAuthTest::tally(@r));
--- request eval
["GET /result.txt", "GET /status"]
--- response_body_like eval
["^401:20\n\$",
 qr/(?ms)result="negative"\} 19\n.*result="denied"\} 3\n.*outcome="match"\} 0\n.*outcome="mismatch"\} 3\n.*^iot_auth_flights\{zone="iot"\} 0\n.*^iot_auth_waiters\{zone="iot"\} 0$/]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: a hash with stray bits in its last salt character fails nginx -t
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
# "u" (20) ends the salt canonically; "v" (21) sets a bit bcrypt never emits
(my $h = $::Old) =~ s/^(.{28})u/$1v/ or die;
[[creds => "ok:$::Old\nstray:$h\n"]]
--- must_die
--- error_log eval
["[emerg]", qr{invalid bcrypt hash in "[^"]*/html/creds" line 2}]



=== TEST 7: a hash with stray bits in its last hash character fails nginx -t
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
my %next = map { substr('./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', $_, 2) =~ /^(.)(.)$/ } grep { $_ % 4 == 0 } 0 .. 60;
(my $h = $::Old) =~ s/(.)$/$next{$1}/e or die;
die "not changed" if $h eq $::Old;
[[creds => "stray:$h\n"]]
--- must_die
--- error_log eval
["[emerg]", qr{invalid bcrypt hash in "[^"]*/html/creds" line 1}]



=== TEST 8: a repeated device id or token header is a bad request
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }

    location = /vin {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_device ${http_x_vin};
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }

    location = /arg {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_device $arg_dev;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- user_files eval
[[creds => "dev:$::Old\nother:$::New\n"]]
--- request eval
["GET /p", "GET /p", "GET /p", "GET /p", "GET /vin", "GET /vin",
 "GET /arg?dev=dev&dev=other"]
--- more_headers eval
["X-Device-Id: dev\nX-Device-Token: oldtoken\n",
 "X-Device-Id: dev\nX-Device-Id: other\nX-Device-Token: oldtoken\n",
 "X-Device-Id: dev\nX-Device-Token: oldtoken\nX-Device-Token: newtoken\n",
 "x-device-id: dev\nX-DEVICE-ID: dev\nX-Device-Token: oldtoken\n",
 "X-Vin: dev\nX-Device-Token: oldtoken\n",
 "X-Vin: dev\nX-Vin: other\nX-Device-Token: oldtoken\n",
 "X-Device-Token: oldtoken\n"]
--- error_code eval
[200, 400, 400, 400, 200, 400, 200]
--- response_headers eval
["X-Result: MISS", "X-Result: DENIED", "X-Result: DENIED",
 "X-Result: DENIED", "X-Result: HIT", "X-Result: DENIED", "X-Result: HIT"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 9: a repeated header is logged as such
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        empty_gif;
    }
--- user_files eval
[[creds => "dev:$::Old\n"]]
--- request
GET /p
--- more_headers
X-Device-Id: dev
X-Device-Token: oldtoken
X-Device-Token: oldtoken
--- error_code: 400
--- error_log
iot_auth: device id or token header sent twice



=== TEST 10: a hash above iot_auth_max_cost fails nginx -t (default 14)
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }
--- user_files eval
[[creds => "ok:$::Old\n# a comment\nslow:" . ('$2b$15$' . substr($::Old, 7)) . "\n"]]
--- must_die
--- error_log eval
["[emerg]", qr{bcrypt cost 15 in "[^"]*/html/creds" line 3 is above "iot_auth_max_cost" 14}]



=== TEST 11: iot_auth_max_cost lets a dearer hash in, where it is set
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_max_cost 15;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- user_files eval
[[creds => "dev:$::Old\nslow:" . ('$2b$15$' . substr($::Old, 7)) . "\n"]]
--- request
GET /p
--- more_headers
X-Device-Id: dev
X-Device-Token: oldtoken
--- response_headers
X-Result: MISS



=== TEST 12: iot_auth_max_cost takes 4 to 31
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_max_cost 32;
    }
--- user_files eval
[[creds => "dev:$::Old\n"]]
--- must_die
--- error_log
[emerg]
value must be between 4 and 31



=== TEST 13: a redirect to a location of another store is decided by that store
--- config
    location = /a {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds-a;
        error_page 404 = /b;
    }

    location = /b {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds-b;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- user_files eval
[['creds-a' => "dev:$::Old\n"], ['creds-b' => "other:$::Old\n"]]
--- request
GET /a
--- more_headers
X-Device-Id: dev
X-Device-Token: oldtoken
--- error_code: 401
--- response_headers
X-Result: UNKNOWN

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults p_config p_files p_req);
use List::Util ();
use Time::HiRes ();

# Abuse resistance: floods of wrong tokens and of unknown ids cost at most
# "failures=" bcrypts and never lock the real device out; past
# iot_auth_max_pending new verifications get a fast 503.  The blocks make
# their requests for /p in --- init, so that with TEST_NGINX_REPEAT_EACH=2
# every repetition sees the same zone.

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
log_level('info');
check_accum_error_log();
worker_connections(1024);

# dev1/secret1 at cost 4; slow-N/slow at cost 12 (~180 ms)
my $fast = '$2y$04$5YYkbXcUn2rZHBTWckUOS.a7locA.amKsRJNg.uuV40KxHnZCBUNq';
my $slow = '$2y$12$k4GlOXsA1rip8wu7Hp2Gn.XvO3BVA4LRTwJKpJWBby3otJID2.Niy';

# X-Kind tells the requests of a block apart in the access log
our $LogFormat = "log_format abuse "
                 . "'\$http_x_kind \$iot_auth_result \$status "
                 . "\$sent_http_retry_after';\n";

add_block_preprocessor(sub {
    p_defaults(shift,
        http_config => "iot_auth_zone zone=iot:1m refresh=100%;\n$LogFormat",
        config => p_config(more => "iot_auth_lockout failures=5 window=1m "
                                   . "duration=1m;\n"
                                   . "access_log html/abuse.log abuse;"),
        user_files => p_files("dev1:$fast", map { "slow-$_:$slow" } 1 .. 5));
});

# a herd request for /p of the given kind
sub req {
    my ($kind, $dev, $token, %opt) = @_;

    my $r = p_req($dev, $token, %opt);
    $r->{headers}{'X-Kind'} = $kind;
    return $r;
}

# "kind status xN" for each kind and status the answers had
sub by_kind {
    my ($reqs, $res) = @_;

    my %n;
    $n{"$reqs->[$_]{headers}{'X-Kind'} $res->[$_]{status}"}++
        for 0 .. $#$reqs;
    return join '', map { "$_ x$n{$_}\n" } sort keys %n;
}

# "log: line xN" for each distinct line of the access log
sub log_tally {
    my %n;
    $n{$_}++ for @_;
    return join '', map { "log: $_ x$n{$_}\n" } sort keys %n;
}

# Each step is a list of requests sent at once (a herd) or a pause in
# seconds, one step after the other, 60 s at most (a few seconds without
# valgrind).  Returns the requests sent and their answers.
sub batches {
    my $deadline = Time::HiRes::time() + 60;
    my (@reqs, @res);

    for my $step (@_) {
        if (!ref $step) {
            Time::HiRes::sleep($step);
            next;
        }
        last if Time::HiRes::time() > $deadline;
        push @reqs, @$step;
        push @res, IotAuthTest::herd($step, timeout => 30);
    }
    return (\@reqs, \@res);
}

run_tests();

__DATA__

=== TEST 1: 1000 wrong tokens in batches run 5 bcrypts, the good token passes
--- http_config eval
"iot_auth_zone zone=iot:1m ttl=1s refresh=100%;\n$::LogFormat"
--- init
my $good = main::req(good => 'dev1', 'secret1');
my @bad = map { main::req(bad => 'dev1', "wrong-$_") } 1 .. 1000;
my @steps = ([$good]);
for my $i (0 .. 19) {
    push @steps, [@bad[50 * $i .. 50 * $i + 24], $good,
                  @bad[50 * $i + 25 .. 50 * $i + 49]];
    push @steps, 1.1 if $i == 9;    # the verdict of the good token expires
}
my ($reqs, $res) = main::batches(@steps);
my @log = IotAuthTest::html_lines('abuse.log', scalar @$res);
my $locked = List::Util::first { $log[$_] =~ /^bad LOCKED / } 0 .. $#log;
my $reval = grep { $log[$_] =~ /^good REVALIDATED / }
                 ($locked // @log) .. $#log;
s/^good (?:HIT|REVALIDATED) /good HIT or REVALIDATED / for @log;
IotAuthTest::write_html('init.txt', main::by_kind($reqs, $res)
                        . main::log_tally(@log)
                        . "revalidated while locked out: "
                        . ($reval ? "yes" : "no") . "\n");
--- request eval
["GET /init.txt", "GET /status"]
--- response_body_like eval
["\\Abad 401 x5\nbad 429 x995\ngood 200 x21\n"
 . "log: bad DENIED 401 - x5\nlog: bad LOCKED 429 - x995\n"
 . "log: good HIT or REVALIDATED 200 - x20\nlog: good MISS 200 - x1\n"
 . "revalidated while locked out: yes\n\\z",
 "\\A(?:hit \\d+\n)?revalidated [1-9]\\d*\nmiss 1\ndenied 5\nlocked 995\n"
 . "match 1\nmismatch 5\nentries 1\n\\z"]
--- error_log
iot_auth: device "dev1" rejected: wrong token
iot_auth: device "dev1" rejected: device locked out
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: 1000 unknown ids run no bcrypt and evict no working device
--- http_config eval
"iot_auth_zone zone=iot:128k refresh=100%;\n$::LogFormat"
--- init
my $good = main::req(good => 'dev1', 'secret1');
my @steps = ([$good]);
for my $i (1 .. 20) {
    my @ghosts = map { main::req(ghost => "ghost-$i-$_", 'x') } 1 .. 50;
    push @steps, [@ghosts[0 .. 24], $good, @ghosts[25 .. 49]];
}
my ($reqs, $res) = main::batches(@steps);
my @log = IotAuthTest::html_lines('abuse.log', scalar @$res);
IotAuthTest::write_html('init.txt', main::by_kind($reqs, $res)
                        . main::log_tally(@log));
IotAuthTest::replies_in('last.txt', ['dev1', 'secret1']);
--- request eval
["GET /init.txt", "GET /last.txt", "GET /status"]
--- response_body_like eval
["\\Aghost 401 x1000\ngood 200 x21\n"
 . "log: ghost UNKNOWN 401 - x1000\nlog: good HIT 200 - x20\n"
 . "log: good MISS 200 - x1\n\\z",
 "\\A200 HIT ok\n\\z",
 "\\Ahit 21\nmiss 1\nunknown 1000\nmatch 1\nentries [1-9]\\d*\n"
 . "evictions [1-9]\\d*\n\\z"]
--- error_log
iot_auth: device "ghost-20-50" rejected: unknown device
--- no_error_log
[error]
[alert]
[crit]
locked out



=== TEST 3: past max_pending wrong tokens get a fast 503, good tokens pass
--- main_config
    thread_pool iot_auth threads=1;
--- http_config eval
"iot_auth_zone zone=iot:1m ttl=1s refresh=100%;\n$::LogFormat"
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_max_pending 1;
        iot_auth_lockout failures=5 window=1m duration=1m;
        access_log html/abuse.log abuse;
    }

    location = /status {
        iot_auth_status;
    }
--- init
my ($reqs, $res) = main::batches(
    (map { [main::req(prime => "slow-$_", 'slow')] } 1 .. 5),
    1.1);    # every verdict expires: the good tokens below are revalidated
my @reqs = ((map { (main::req(wrong => "slow-$_", 'wrong-a'),
                    main::req(wrong => "slow-$_", 'wrong-b')) } 1 .. 5),
            map { main::req(good => "slow-$_", 'slow', delay => 0.05) } 1 .. 5);
my @res = IotAuthTest::herd(\@reqs, timeout => 30);
my ($bcrypt) = grep { $_->{status} eq '401' } @res;
my $done = $bcrypt ? $bcrypt->{end} : 0;
my @busy = grep { $_->{status} eq '503' } @res;
my @good = @res[10 .. 14];
IotAuthTest::write_html('init.txt',
    main::by_kind([@$reqs, @reqs], [@$res, @res])
    . main::log_tally(IotAuthTest::html_lines('abuse.log', @$res + @res))
    . "503 before the bcrypt ended: "
    . ((List::Util::all { $_->{end} < $done } @busy) ? "yes" : "no") . "\n"
    . "good tokens before the bcrypt ended: "
    . ((List::Util::all { $_->{end} < $done } @good) ? "yes" : "no") . "\n");
--- request eval
["GET /init.txt", "GET /status"]
--- response_body_like eval
["\\Agood 200 x5\nprime 200 x5\nwrong 401 x1\nwrong 503 x9\n"
 . "log: good REVALIDATED 200 - x5\nlog: prime MISS 200 - x5\n"
 . "log: wrong BUSY 503 1 x9\nlog: wrong DENIED 401 - x1\n"
 . "503 before the bcrypt ended: yes\n"
 . "good tokens before the bcrypt ended: yes\n\\z",
 "\\Arevalidated 5\nmiss 5\ndenied 1\nbusy 9\nmatch 5\nmismatch 1\n"
 . "entries 5\n\\z"]
--- error_log eval
qr/\[warn\] .*iot_auth: device "slow-\d" rejected: too many verifications/
--- no_error_log
[error]
[alert]
[crit]
locked out



=== TEST 4: 50 different wrong tokens at once run 5 bcrypts
--- init
my @reqs = map { main::req(wrong => 'slow-1', "wrong-$_") } 1 .. 50;
my @res = IotAuthTest::herd(\@reqs, timeout => 30);
my @denied = grep { $_->{status} eq '401' } @res;
my @locked = grep { $_->{status} eq '429' } @res;
my $first = List::Util::min(map { $_->{end} } @denied) // 0;
IotAuthTest::write_html('init.txt',
    main::by_kind(\@reqs, \@res)
    . main::log_tally(IotAuthTest::html_lines('abuse.log', scalar @res))
    . "429 before the first bcrypt ended: "
    . ((List::Util::all { $_->{end} < $first } @locked) ? "yes" : "no")
    . "\n");
IotAuthTest::replies_in('last.txt', ['slow-1', 'slow']);
--- request eval
["GET /init.txt", "GET /last.txt", "GET /status"]
--- response_body_like eval
["\\Awrong 401 x5\nwrong 429 x45\n"
 . "log: wrong DENIED 401 - x5\nlog: wrong LOCKED 429 - x45\n"
 . "429 before the first bcrypt ended: yes\n\\z",
 "\\A429 LOCKED 429 Too Many Requests\n\\z",
 "\\Adenied 5\nlocked 46\nmismatch 5\nentries 1\n\\z"]
--- error_log
iot_auth: device "slow-1" rejected: device locked out
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: the lockout ends after duration, failures count within window
--- config eval
IotAuthTest::p_config(more => "iot_auth_lockout failures=2 window=1s "
                              . "duration=1s;")
--- init
IotAuthTest::steps(['dev1', 'wrong-1'], 1.1,
                   (map { ['dev1', "wrong-$_"] } 2 .. 4), 1.1,
                   (map { ['dev1', "wrong-$_"] } 5 .. 7));
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["401 401 401 429 401 401 429\n",
 "denied 5\nlocked 2\nmismatch 5\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: after an internal redirect the perms of the current location apply
--- config
    location = /strict {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 1;
        try_files /nope @admin;
    }
    location @admin {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 4;
        rewrite ^ /backend break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /lax {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 3;
        try_files /nope @open;
    }
    location = /guarded {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 2;
        error_page 403 = @open;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
    location @open {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_require_perms 1;
        rewrite ^ /backend break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /status {
        iot_auth_status;
    }
--- user_files
>>> creds
dev1:$2y$04$jFF2G2caxZRZzgKWBC.B5erAdPEVvfx9HCrC7KG9pHFhw8UirH/Tm:0x3
dev2:$2y$04$rtr7QHMs2OgTxUKqAKmJ4uK3dCN1HThRWn4cm9CjaJzA.j5.QLU/O:1
--- request eval
["GET /strict", "GET /lax", "GET /lax", "GET /guarded", "GET /status"]
--- more_headers eval
[IotAuthTest::creds('dev1', 'secret1'), IotAuthTest::creds('dev1', 'secret1'),
 IotAuthTest::creds('dev2', 'secret2'), IotAuthTest::creds('dev2', 'secret2'),
 ""]
--- error_code eval
[403, 200, 403, 200, 200]
--- response_body_like eval
["\\A403 Forbidden\n\\z", "\\Aok\n\\z", "\\A403 Forbidden\n\\z", "\\Aok\n\\z",
 "\\A(?:\\w+ \\d+\n)*match 2\nentries 2\n\\z"]
--- error_log
iot_auth: device "dev1" rejected: lacks the required perms
--- no_error_log
[error]
[alert]
[crit]

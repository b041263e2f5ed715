use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthRedis qw(free_port redis_start redis_stop redis_cli
                    fake_redis_start http_get);
use IotAuthTest qw(herd write_html poll bcrypt_hash);
use IotAuthFleet qw(gateway_start gateway_stop gateway_kill gateway_log
                    relay_start relay_cut relay_mend);
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

# Fleet mode with three gateways on this machine: "a" is the nginx that
# Test::Nginx runs, "b" and "c" are started by each block's init (same
# binary, module and configuration, free ports), and all three share a
# real redis-server.  A fake Redis sends the replies no fleet writes.
# Blocks check what reaches every gateway: shared verdicts, one bcrypt
# per token for the whole fleet, lockout, revocation across an outage.

our $Dir = tempdir('iot-fleet-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $Dir;

$ENV{TEST_NGINX_FLEET_DIR} = $Dir;

$ENV{TEST_NGINX_REDIS_PORT} = free_port();
$ENV{TEST_NGINX_REDIS_FAKE_PORT} = free_port();

redis_start('main', port => $ENV{TEST_NGINX_REDIS_PORT});

our $H1 = bcrypt_hash('secret1');
our $H2 = bcrypt_hash('secret2');
our $Slow = bcrypt_hash('secret1', 12);
our $Slower = bcrypt_hash('secret1', 13);

sub write_file {
    my ($name, $text) = @_;

    open my $fh, '>', "$Dir/$name" or die "$Dir/$name: $!";
    print $fh $text;
    close $fh;
}

# the key every gateway shares, and a credentials file at the same path
write_file('secret', "fleet-test-key-0123456789abcdefghijklmnop\n");
write_file('creds', join '', map { "$_\n" }
    (map { "f$_:$H1" } 1 .. 4),
    "fslow:$Slower",
    (map { "$_:$H1" } qw(vint vshort vnothex varray verr vstatus lstr
                         cint cq cnodigit cabc cempty cnil clong good)));

sub populate {
    redis_cli('main', 'FLUSHALL');

    for my $d (qw(sh1 lk1 rv1 rv2 rv3 dn1), map { "cold$_" } 1 .. 12) {
        redis_cli('main', 'HSET', "iot:device:$d", 'hash', $H1, 'perms', 5);
    }

    redis_cli('main', 'HSET', 'iot:device:hd1', 'hash', $Slow);
    redis_cli('main', 'HSET', 'iot:device:slow1', 'hash', $Slower);
}

sub http_conf {
    my ($redis) = @_;

    $redis //= $ENV{TEST_NGINX_REDIS_PORT};

    return <<"_EOC_";
    iot_auth_zone zone=iot:1m ttl=30s negative_ttl=10s;
    iot_auth_zone zone=short:1m ttl=1s negative_ttl=10s;
    iot_auth_redis 127.0.0.1:$redis timeout=500ms connect_timeout=500ms
                   revoke_channel=iot:revoke;
    iot_auth_fleet on;
    iot_auth_secret_file $Dir/secret;
    iot_auth_wait_timeout 1s;
_EOC_
}

sub location {
    my ($uri, @lines) = @_;

    my $more = join '', map { "            $_\n" } @lines;

    return <<"_EOC_";
        location = $uri {
            iot_auth zone=iot;
$more            add_header X-Result \$iot_auth_result always;
            empty_gif;
        }
_EOC_
}

sub server_conf {
    return location('/r', 'iot_auth_credentials redis;')
         . location('/rl', 'iot_auth_credentials redis;',
                    'iot_auth_lockout failures=3 window=60s duration=60s;')
         . location('/f', "iot_auth_credentials file=$Dir/creds;")
         . location('/fw', "iot_auth_credentials file=$Dir/creds;",
                    'iot_auth_wait_timeout 5s;')
         . location('/short', "iot_auth_credentials file=$Dir/creds;")
           =~ s/zone=iot/zone=short/r
         . "        location = /status {\n"
         . "            iot_auth_status;\n"
         . "        }\n";
}

# gateways b and c beside a; $o{c} is the Redis port c is given
our %Port;

sub gateways {
    my (%o) = @_;

    populate();

    $Port{a} = $ENV{TEST_NGINX_SERVER_PORT};

    for my $g (qw(b c)) {
        $Port{$g} = gateway_start($g, http => http_conf($o{$g}),
                                  server => server_conf());
    }

    # verdicts made before a gateway listens to revocations are checked
    # again once it does: the blocks start when all three listen
    poll(3, sub {
        (split /\n/, redis_cli('main', 'PUBSUB', 'NUMSUB', 'iot:revoke'))[1]
        == 3
    });
    sleep 0.1;
}

sub stop_gateways {
    gateway_stop($_) for qw(b c);
}

sub get {
    my ($gw, $uri, $dev, $token) = @_;

    return http_get($uri, { 'X-Device-Id' => $dev,
                            'X-Device-Token' => $token },
                    port => $Port{$gw});
}

# "label status result"
sub line {
    my ($label, $res) = @_;

    return sprintf "%s %s %s\n", $label, $res->{status},
                   $res->{headers}{'x-result'} // '-';
}

sub ask {
    my ($gw, $uri, $dev, $token) = @_;

    return line("$gw $dev/$token", get($gw, $uri, $dev, $token));
}

# one number of every gateway's status page, summed
sub metric {
    my ($re) = @_;

    my $n = 0;
    for my $g (sort keys %Port) {
        my $body = http_get('/status', {}, port => $Port{$g})->{body};
        $n += $1 while $body =~ /$re/g;
    }
    return $n;
}

sub bcrypts {
    return metric(qr/^iot_auth_bcrypt_total\{[^}]*\} (\d+)$/m);
}

sub results {
    my ($result) = @_;

    return metric(qr/^iot_auth_requests_total\{zone="iot",result="$result"\} (\d+)$/m);
}

# Redis commands run, all kinds but INFO
sub redis_calls {
    my $info = redis_cli('main', 'INFO', 'commandstats');
    my $n = 0;
    while ($info =~ /^cmdstat_(\w+):calls=(\d+)/mg) {
        $n += $2 if $1 ne 'info';
    }
    return $n;
}


# a verdict made on a is SHARED on b and c, then a local HIT everywhere
sub shared {
    gateways();

    my $out = ask(a => '/r', 'sh1', 'secret1');
    $out .= ask(b => '/r', 'sh1', 'secret1');
    $out .= ask(c => '/r', 'sh1', 'secret1');

    my $calls = redis_calls();
    $out .= ask($_ => '/r', 'sh1', 'secret1') for qw(a b c);
    $out .= sprintf "redis commands of the hits: %d\n", redis_calls() - $calls;

    $out .= ask(b => '/r', 'sh1', 'secret2');
    $out .= sprintf "bcrypt: %d\n", bcrypts();
    $out .= sprintf "shared results: %d\n", results('shared');

    my @keys = split /\n/, redis_cli('main', 'KEYS', 'iot:fleet:v:*');
    my $v = @keys == 1 ? redis_cli('main', 'GET', $keys[0]) : '';
    $out .= sprintf "verdicts: %d, %s\n", scalar @keys,
                    $v =~ /\A[0-9a-f]{96}\z/ ? '96 hex digits' : "<$v>";
    $out .= sprintf "ttl of the verdict: %s\n",
                    redis_cli('main', 'PTTL', $keys[0] // 'none') > 25000
                    ? 'the zone\'s' : 'other';

    my $all = join ' ', map { redis_cli('main', 'DUMP', $_) }
                        split /\n/, redis_cli('main', 'KEYS', 'iot:fleet:*');
    $out .= sprintf "token or hash in a fleet key: %s\n",
                    index($all, 'secret1') >= 0 || index($all, $H1) >= 0
                    ? 'yes' : 'no';

    $out .= sprintf "a wake-up of the wrong shape, heard by: %s\n",
                    redis_cli('main', 'PUBLISH', 'iot:fleet:wake', 'garbage');
    $out .= ask(c => '/r', 'sh1', 'secret1');
    poll(1, sub { scalar gateway_log('c', qr/ignored a malformed message/) });

    stop_gateways();
    write_html('result.txt', $out);
}

# ttl=1s, under the 10s an outcome is kept: a match whose shared verdict
# ran out is verified again, once, and shared again
sub expired {
    gateways();

    my $out = ask(a => '/short', 'f3', 'secret1');
    sleep 1.2;
    $out .= ask(b => '/short', 'f3', 'secret1');
    $out .= ask(c => '/short', 'f3', 'secret1');
    $out .= sprintf "bcrypt: %d\n", bcrypts();

    stop_gateways();
    write_html('result.txt', $out);
}

# a herd spread over the three gateways: one bcrypt in all
sub herd3 {
    gateways();

    my @reqs;
    for my $i (1 .. 60) {
        my $g = (qw(a b c))[$i % 3];
        push @reqs, { uri => '/r', port => $Port{$g},
                      headers => { 'X-Device-Id' => 'hd1',
                                   'X-Device-Token' => 'secret1' } };
    }

    my @r = herd(\@reqs, timeout => 20);

    my %n;
    $n{ $_->{status} }++ for @r;

    my $out = join '', map { "$_ x$n{$_}\n" } sort keys %n;
    $out .= sprintf "bcrypt: %d\n", bcrypts();
    $out .= sprintf "miss: %d\n", results('miss');

    stop_gateways();
    write_html('result.txt', $out);
}

# twelve cold devices, each asked of the three gateways at once
sub cold {
    gateways();

    my @reqs;
    for my $d (1 .. 12) {
        for my $g (qw(a b c)) {
            push @reqs, { uri => '/r', port => $Port{$g},
                          headers => { 'X-Device-Id' => "cold$d",
                                       'X-Device-Token' => 'secret1' } };
        }
    }

    my @r = herd(\@reqs, timeout => 20);
    my $ok = grep { $_->{status} eq '200' } @r;

    my $out = sprintf "200: %d of %d\n", $ok, scalar @r;
    $out .= sprintf "bcrypt: %d\n", bcrypts();

    stop_gateways();
    write_html('result.txt', $out);
}

# b runs the bcrypt and dies; a, waiting, takes over after wait_timeout
sub dead_owner_kill {
    gateways();

    my $t0 = time;
    my @r = herd([
        { uri => '/r', port => $Port{b},
          headers => { 'X-Device-Id' => 'slow1',
                       'X-Device-Token' => 'secret1' } },
        { uri => '/r', port => $Port{a}, delay => 0.2,
          headers => { 'X-Device-Id' => 'slow1',
                       'X-Device-Token' => 'secret1' } },
    ], timeout => 10, at => [0.35, sub { gateway_kill('b') }]);
    my $took = time - $t0;

    delete $Port{b};

    my $out = sprintf "the owner, killed: %s\n",
                      $r[0]{status} =~ /^\d+$/ ? $r[0]{status} : 'no answer';
    $out .= sprintf "the waiter: %s\n", $r[1]{status};
    $out .= sprintf "after wait_timeout: %s\n",
                    $took > 1.1 ? 'yes' : "no ($took s)";
    $out .= sprintf "bcrypt on a and c: %d\n", bcrypts();

    gateway_stop('c');
    write_html('result.txt', $out);
}


# three wrong tokens, one per gateway, lock the device out everywhere;
# its last good token still passes on all three
sub lockout {
    gateways();

    my $out = ask(a => '/rl', 'lk1', 'secret1');
    $out .= ask(a => '/rl', 'lk1', 'wrong1');
    $out .= ask(b => '/rl', 'lk1', 'wrong2');
    $out .= ask(c => '/rl', 'lk1', 'wrong3');
    $out .= ask($_ => '/rl', 'lk1', 'wrong4') for qw(a b c);
    $out .= ask($_ => '/rl', 'lk1', 'secret1') for qw(a b c);
    $out .= ask(b => '/rl', 'lk1', 'wrong2');
    $out .= sprintf "bcrypt: %d\n", bcrypts();

    stop_gateways();
    write_html('result.txt', $out);
}

# c is cut off from Redis while rv1 is revoked (disabled and published):
# c refuses it within a second of reconnecting, and re-checks the other
# devices it knows with the store, without bcrypt
sub revoke_cut {
    populate();

    my $relay = relay_start('c', $ENV{TEST_NGINX_REDIS_PORT});
    gateways(c => $relay);

    my $out = ask(a => '/r', 'rv1', 'secret1');
    $out .= ask(c => '/r', 'rv1', 'secret1');
    $out .= ask(c => '/r', 'rv2', 'secret1');

    relay_cut('c');
    poll(3, sub { scalar gateway_log('c', qr/is unavailable/) });

    redis_cli('main', 'HSET', 'iot:device:rv1', 'disabled', 1);
    $out .= sprintf "subscribers reached: %s\n",
                    redis_cli('main', 'PUBLISH', 'iot:revoke', 'rv1');

    # PUBLISH returns once the message is sent, maybe before a's worker 0
    # has read it: a refuses the device within a second
    my $revoked;
    poll(1, sub {
        ($revoked = ask(a => '/r', 'rv1', 'secret1')) =~ / 401 /;
    });
    $out .= $revoked;
    $out .= ask(c => '/r', 'rv1', 'secret1');

    my $bcrypt = bcrypts();
    my $t0 = time;
    relay_mend('c');

    # every worker of c has its connection back
    my $back = poll(4, sub {
        my %pids = map { /\] (\d+)#/ ? ($1 => 1) : () }
                   gateway_log('c', qr/is available again/);
        keys %pids >= 2;
    });
    my $t1 = time;

    my $res;
    poll(1, sub { $res = get(c => '/r', 'rv1', 'secret1');
                  $res->{status} eq '401' });
    my $t2 = time;

    $out .= line('c rv1/secret1 after reconnecting', $res);
    $out .= sprintf "refused within 1s of reconnecting: %s\n",
                    $back && $t2 - $t1 < 1 ? 'yes'
                    : sprintf("no (back: %s, %.2f s)", $back ? 1 : 0,
                              $t2 - $t1);
    $out .= sprintf "reconnected within 1.5s of the relay: %s\n",
                    $t1 - $t0 < 1.5 ? 'yes' : sprintf("no (%.2f s)",
                                                      $t1 - $t0);

    $out .= ask(c => '/r', 'rv2', 'secret1');
    $out .= ask(c => '/r', 'rv2', 'secret1');
    $out .= sprintf "bcrypt since: %d\n", bcrypts() - $bcrypt;
    $out .= sprintf "logged: %s\n",
                    gateway_log('c', qr/verdicts of redis stores will be checked again/)
                    ? 'yes' : 'no';

    stop_gateways();
    relay_cut('c');
    write_html('result.txt', $out);
}

# Redis goes away: every gateway goes on with the devices it verified,
# verifies alone what it must, and a waiter stops waiting for the fleet
sub redis_down {
    gateways();

    my $out = ask(a => '/r', 'dn1', 'secret1');
    $out .= ask(b => '/r', 'dn1', 'secret1');
    $out .= ask(a => '/f', 'f1', 'secret1');

    # b verifies fslow (cost 13); a waits for it, up to 5s; Redis dies

    my $t0 = time;
    my @r = herd([
        { uri => '/fw', port => $Port{b},
          headers => { 'X-Device-Id' => 'fslow',
                       'X-Device-Token' => 'secret1' } },
        { uri => '/fw', port => $Port{a}, delay => 0.15,
          headers => { 'X-Device-Id' => 'fslow',
                       'X-Device-Token' => 'secret1' } },
    ], timeout => 10, at => [0.3, sub { redis_stop('main') }]);
    my $took = time - $t0;

    $out .= sprintf "fslow on b: %s, on a: %s, a stopped waiting: %s\n",
                    $r[0]{status}, $r[1]{status},
                    $took < 3 ? 'yes' : "no ($took s)";

    $out .= ask($_ => '/r', 'dn1', 'secret1') for qw(a b);
    $out .= ask(b => '/f', 'f2', 'secret1');
    $out .= ask(c => '/r', 'dn1', 'secret1');
    $out .= sprintf "decided alone: %s\n",
                    results('miss') >= 2 && metric(qr/^iot_auth_fleet_errors_total\{[^}]*\} (\d+)$/m) >= 1
                    ? 'yes' : 'no';

    stop_gateways();
    redis_start('main');
    populate();
    write_html('result.txt', $out);
}

# what a fake Redis answers for each device; anything else as a real one
sub odd {
    my ($cmd) = @_;

    my $verb = uc $cmd->[0];
    my $key = $verb eq 'EVAL' ? $cmd->[3] // '' : $cmd->[1] // '';
    my ($dev) = $key =~ /:([^:]+)\z/;
    $dev //= '';

    if ($verb eq 'SUBSCRIBE') {
        return join '', map { sprintf "*3\r\n\$9\r\nsubscribe\r\n\$%d\r\n%s\r\n:%d\r\n",
                                      length $cmd->[$_], $cmd->[$_], $_ }
                        1 .. $#$cmd;
    }

    if ($verb eq 'GET') {
        my %v = (vint => ":5\r\n", vshort => "\$3\r\nabc\r\n",
                 vnothex => "\$96\r\n" . ('z' x 96) . "\r\n",
                 varray => "*1\r\n\$1\r\na\r\n", verr => "-ERR boom\r\n",
                 vstatus => "+OK\r\n");
        return $v{$dev} // "\$-1\r\n";
    }

    if ($verb eq 'PTTL') {
        return $dev eq 'lstr' ? "\$1\r\n5\r\n" : ":-2\r\n";
    }

    if ($verb eq 'EVAL') {
        my %c = (cint => ":1\r\n", cq => "\$1\r\nq\r\n",
                 cnodigit => "\$1\r\nc\r\n", cabc => "\$4\r\ncabc\r\n",
                 cempty => "\$0\r\n\r\n", cnil => "\$-1\r\n",
                 clong => "\$200\r\no" . ('x' x 199) . "\r\n");
        return $c{$dev} // "\$2\r\nc1\r\n";
    }

    return $verb eq 'DEL' || $verb eq 'PUBLISH' ? ":1\r\n" : undef;
}

sub odd_replies {
    my $out = '';

    for my $d (qw(vint vshort vnothex varray verr vstatus cint cq cnodigit
                  cabc cempty cnil clong good))
    {
        $out .= line($d, http_get('/f', { 'X-Device-Id' => $d,
                                          'X-Device-Token' => 'secret1' }));
    }

    $out .= line('lstr', http_get('/fl', { 'X-Device-Id' => 'lstr',
                                           'X-Device-Token' => 'secret1' }));
    $out .= line('then', http_get('/f', { 'X-Device-Id' => 'good',
                                          'X-Device-Token' => 'secret1' }));

    write_html('result.txt', $out);
}

fake_redis_start('fake', $ENV{TEST_NGINX_REDIS_FAKE_PORT}, \&odd);

master_on();
workers(2);
worker_connections(1024);
repeat_each(1);
no_shuffle();
no_long_string();
log_level('info');

add_block_preprocessor(sub {
    my ($block) = @_;

    $block->set_value(main_config => 'thread_pool iot_auth threads=2;')
        if !defined $block->main_config;
    $block->set_value(http_config => http_conf())
        if !defined $block->http_config;
    $block->set_value(config => server_conf()) if !defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: iot_auth_fleet on needs iot_auth_redis
--- http_config eval
"iot_auth_zone zone=iot:1m;
 iot_auth_secret_file $::Dir/secret;
 iot_auth_fleet on;"
--- config
--- must_die
--- error_log
"iot_auth_fleet on" requires "iot_auth_redis"



=== TEST 2: iot_auth_fleet on needs iot_auth_secret_file
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    iot_auth_fleet on;
--- config
--- must_die
--- error_log
"iot_auth_fleet on" requires "iot_auth_secret_file", the same on every gateway



=== TEST 3: fleet_prefix= must be visible characters
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT fleet_prefix=;
--- config
--- must_die
--- error_log
invalid fleet_prefix "fleet_prefix=", it must be 1 to 64 visible characters



=== TEST 4: a verdict made on one gateway is SHARED by the others, then a local HIT
--- init
::shared();
--- request
GET /result.txt
--- response_body
a sh1/secret1 200 MISS
b sh1/secret1 200 SHARED
c sh1/secret1 200 SHARED
a sh1/secret1 200 HIT
b sh1/secret1 200 HIT
c sh1/secret1 200 HIT
redis commands of the hits: 0
b sh1/secret2 401 DENIED
bcrypt: 2
shared results: 2
verdicts: 1, 96 hex digits
ttl of the verdict: the zone's
token or hash in a fleet key: no
a wake-up of the wrong shape, heard by: 3
c sh1/secret1 200 HIT
--- error_log
ignored a malformed message of 7 bytes on the fleet's channel
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: a shared verdict that ran out while its outcome is kept: verified once again, then shared
--- init
::expired();
--- request
GET /result.txt
--- response_body
a f3/secret1 200 MISS
b f3/secret1 200 MISS
c f3/secret1 200 SHARED
bcrypt: 2
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: a herd spread over three gateways runs one bcrypt
--- init
::herd3();
--- request
GET /result.txt
--- response_body
200 x60
bcrypt: 1
miss: 1
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: twelve cold devices asked of three gateways at once: twelve bcrypts
--- init
::cold();
--- request
GET /result.txt
--- response_body
200: 36 of 36
bcrypt: 12
--- no_error_log
[error]
[alert]
[crit]



=== TEST 8: the gateway that verifies dies; a waiter on another takes over after iot_auth_wait_timeout
--- init
::dead_owner_kill();
--- request
GET /result.txt
--- response_body
the owner, killed: no answer
the waiter: 200
after wait_timeout: yes
bcrypt on a and c: 1
--- error_log
another gateway's verification did not end in 1000ms, asking the fleet again
--- no_error_log
[error]
[crit]



=== TEST 9: three failures over three gateways lock the device out everywhere, but not its last good token
--- init
::lockout();
--- request
GET /result.txt
--- response_body
a lk1/secret1 200 MISS
a lk1/wrong1 401 DENIED
b lk1/wrong2 401 DENIED
c lk1/wrong3 401 DENIED
a lk1/wrong4 429 LOCKED
b lk1/wrong4 429 LOCKED
c lk1/wrong4 429 LOCKED
a lk1/secret1 200 HIT
b lk1/secret1 200 SHARED
c lk1/secret1 200 SHARED
b lk1/wrong2 401 NEGATIVE
bcrypt: 4
--- no_error_log
[error]
[alert]
[crit]



=== TEST 10: a gateway cut off from Redis during a revocation refuses the device within 1s of reconnecting
--- init
::revoke_cut();
--- request
GET /result.txt
--- response_body
a rv1/secret1 200 MISS
c rv1/secret1 200 SHARED
c rv2/secret1 200 MISS
subscribers reached: 2
a rv1/secret1 401 UNKNOWN
c rv1/secret1 200 HIT
c rv1/secret1 after reconnecting 401 UNKNOWN
refused within 1s of reconnecting: yes
reconnected within 1.5s of the relay: yes
c rv2/secret1 200 REVALIDATED
c rv2/secret1 200 HIT
bcrypt since: 0
logged: yes
--- no_error_log
[alert]
[crit]



=== TEST 11: Redis down: each gateway serves what it verified and verifies alone
--- init
::redis_down();
--- request
GET /result.txt
--- response_body
a dn1/secret1 200 MISS
b dn1/secret1 200 SHARED
a f1/secret1 200 MISS
fslow on b: 200, on a: 200, a stopped waiting: yes
a dn1/secret1 200 HIT
b dn1/secret1 200 HIT
b f2/secret1 200 MISS
c dn1/secret1 503 ERROR
decided alone: yes
--- no_error_log
[alert]
[crit]



=== TEST 12: replies of the wrong type or size for fleet keys: an error line, a local decision
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_FAKE_PORT timeout=500ms;
    iot_auth_fleet on;
    iot_auth_secret_file $TEST_NGINX_FLEET_DIR/secret;
--- config eval
::location('/f', "iot_auth_credentials file=$::Dir/creds;")
. ::location('/fl', "iot_auth_credentials file=$::Dir/creds;",
             'iot_auth_lockout failures=3 window=60s duration=60s;')
--- init
::odd_replies();
--- request
GET /result.txt
--- response_body
vint 200 MISS
vshort 200 MISS
vnothex 200 MISS
varray 200 MISS
verr 200 MISS
vstatus 200 MISS
cint 200 MISS
cq 200 MISS
cnodigit 200 MISS
cabc 200 MISS
cempty 200 MISS
cnil 200 MISS
clong 200 MISS
good 200 MISS
lstr 200 MISS
then 200 HIT
--- error_log eval
[qr/fleet: redis sent an unexpected reply to GET "iot:fleet:v:[0-9a-f]{16}:vint"/,
 qr/fleet: redis sent an unexpected reply to GET "iot:fleet:v:[0-9a-f]{16}:vshort"/,
 qr/fleet: redis sent an unexpected reply to GET "iot:fleet:v:[0-9a-f]{16}:vnothex"/,
 qr/fleet: redis sent an unexpected reply to GET "iot:fleet:v:[0-9a-f]{16}:varray"/,
 qr/fleet: redis GET "iot:fleet:v:[0-9a-f]{16}:verr" failed: ERR boom/,
 qr/fleet: redis sent an unexpected reply to GET "iot:fleet:v:[0-9a-f]{16}:vstatus"/,
 qr/fleet: redis sent an unexpected reply to EVAL "iot:fleet:f:[0-9a-f:]+:cint"/,
 qr/fleet: redis sent an unexpected reply to EVAL "iot:fleet:f:[0-9a-f:]+:cq"/,
 qr/fleet: redis sent an unexpected reply to EVAL "iot:fleet:f:[0-9a-f:]+:cnodigit"/,
 qr/fleet: redis sent an unexpected reply to EVAL "iot:fleet:f:[0-9a-f:]+:cabc"/,
 qr/fleet: redis sent an unexpected reply to EVAL "iot:fleet:f:[0-9a-f:]+:cempty"/,
 qr/fleet: redis sent an unexpected reply to EVAL "iot:fleet:f:[0-9a-f:]+:cnil"/,
 qr/fleet: redis sent an unexpected reply to EVAL "iot:fleet:f:[0-9a-f:]+:clong"/,
 qr/fleet: redis sent an unexpected reply to PTTL "iot:fleet:x:[0-9a-f]{16}:lstr"/]
--- no_error_log eval
[qr/unexpected reply to \S+ "[^"]*:good"/, "[alert]", "[crit]",
 "is unavailable"]

package IotAuthRedisCases;

# The records and the scenarios of t/040-redis.t: what its Redis
# instances hold (populate), the replies of its fake Redis (%Odd), and
# the multi-step cases its blocks run in `--- init`, each writing what it
# saw to html/result.txt, one line per step.  The instances are "main"
# (TCP and a unix socket) and "auth" (password $Password), started by
# the test file (IotAuthRedis::redis_start).

use strict;
use warnings;

use IotAuthFleet qw(gateway_start gateway_stop gateway_kill gateway_log
                    gateway_master);
use IotAuthRedis qw(redis_start redis_stop redis_signal redis_cli
                    hmget_calls redis_clients);
use IotAuthTest qw(herd tally write_html worker_pids poll http_get p_req
                   bcrypt_hash log_lines per_worker);
use Time::HiRes qw(time sleep);

our $Password = 'pw-0f1e2d3c';

# cost 4, and cost 10 (~45 ms) where a herd must pile up behind one
# verification
our $H1 = bcrypt_hash('secret1');
our $H2 = bcrypt_hash('secret2');
our $Slow = bcrypt_hash('secret1', 10);

# (Re)creates every record: the data of a restarted Redis is gone.
sub populate {
    redis_cli('main', 'FLUSHALL');

    for my $d (qw(dev1 k1 k2 f1 f2 rv1 rv2 ch1 st1 st2 uds1)) {
        redis_cli('main', 'HSET', "iot:device:$d", 'hash', $H1, 'perms', 5);
    }

    redis_cli('main', 'HSET', 'iot:device:hd1', 'hash', $Slow);

    for my $d (map { "mp$_" } 1 .. 10) {
        redis_cli('main', 'HSET', "iot:device:$d", 'hash', $Slow);
    }
    redis_cli('main', 'HSET', 'iot:device:dis', 'hash', $H1, 'disabled', 1);
    redis_cli('main', 'HSET', 'iot:device:enabled', 'hash', $H1,
              'disabled', 0, 'perms', '0x10');
    redis_cli('main', 'SET', 'iot:device:str', 'not a hash');
    redis_cli('main', 'HSET', 'iot:device:badhash', 'hash', 'nothash',
              'perms', 1);
    redis_cli('main', 'HSET', 'iot:device:badperms', 'hash', $H1,
              'perms', '0xZZ');
    redis_cli('main', 'HSET', 'iot:device:nohash', 'perms', 3);
    redis_cli('main', 'HSET', 'iot:device:huge', 'hash', 'x' x 100000);
    redis_cli('main', 'HSET', 'tenant:a:t1', 'hash', $H1, 'perms', 7);
    redis_cli('main', 'HSET', 'tenant:b:t1', 'hash', $H2, 'perms', 7);
    redis_cli('main', '-n', 3, 'HSET', 'iot:device:db3', 'hash', $H1);

    redis_cli('auth', 'FLUSHALL');

    for my $d (qw(pw1 life1 life2)) {
        redis_cli('auth', 'HSET', "iot:device:$d", 'hash', $H1);
    }
}

# replies no real Redis sends to HMGET, from a fake one
our %Odd = (
    'iot:device:int'      => ":5\r\n",
    'iot:device:status'   => "+OK\r\n",
    'iot:device:nil'      => "\$-1\r\n",
    'iot:device:nullarr'  => "*-1\r\n",
    'iot:device:empty'    => "*0\r\n",
    'iot:device:two'      => "*2\r\n\$-1\r\n\$-1\r\n",
    'iot:device:four'     => "*4\r\n" . "\$-1\r\n" x 4,
    'iot:device:nested'   => "*3\r\n*1\r\n:1\r\n\$-1\r\n\$-1\r\n",
    'iot:device:intfield' => "*3\r\n:1\r\n\$-1\r\n\$-1\r\n",
    'iot:device:errfield' => "*3\r\n-ERR no\r\n\$-1\r\n\$-1\r\n",
    'iot:device:many'     => "*100000\r\n" . "\$-1\r\n" x 100000,
    'iot:device:good'     => "*3\r\n\$60\r\n$H1\r\n\$1\r\n9\r\n\$-1\r\n",
    'iot:device:garbage'  => "!garbage\r\n",
);

# GET $opts{uri} (default /p) as $device with $token
# (IotAuthTest::http_get, which takes the other %opts)
sub get {
    my ($device, $token, %opts) = @_;

    my $uri = delete $opts{uri} // '/p';
    return http_get($uri, p_req($device, $token)->{headers}, %opts);
}

# "label status result", plus the Retry-After of a 503
sub line {
    my ($label, $res) = @_;

    my $retry = $res->{headers}{'retry-after'};
    my $perms = $res->{headers}{'x-perms'};

    return sprintf "%s %s %s%s%s\n", $label, $res->{status},
                   $res->{headers}{'x-result'} // '-',
                   defined $perms ? " perms=$perms" : '',
                   defined $retry ? " retry=$retry" : '';
}

# one request per [device, token, uri => URI], one line each in
# result.txt, labelled "device/token" (and the URI if given)
sub probe {
    write_html('result.txt', join '', map {
        my ($device, $token, %opts) = @$_;
        line(join(' ', "$device/$token", $opts{uri} // ()), get(@$_));
    } @_);
}

sub wait_status {
    my ($want, $secs, @req) = @_;

    my $res;
    poll($secs, sub { $res = get(@req); $res->{status} eq $want });
    return $res;
}

# Redis killed and started again: cached verdicts go on, the rest 503
sub outage {
    my $out = line('prime', get('k1', 'secret1'));

    redis_stop('main');
    sleep 0.2;

    $out .= line('cached', get('k1', 'secret1'));

    my %down;
    $down{ line('uncached', get('k2', 'secret1')) }++ for 1 .. 10;
    $out .= join '', sort keys %down;

    redis_start('main');
    populate();

    $out .= line('recovered', wait_status(200, 8, 'k2', 'secret1'));

    # every worker that noticed says it once, and says when it is over
    poll(8, sub {
        (per_worker(qr/is available again/))[0]
        == (per_worker(qr/is unavailable: /))[0]
    });

    my $redis = qr/iot_auth: redis "127\.0\.0\.1:\d+"/;
    my ($down, $once) = per_worker(qr/\[error\].*$redis is unavailable: /);
    my ($back, $once_back) =
        per_worker(qr/\[notice\].*$redis is available again/);

    $out .= sprintf "outage logged once per worker: %s\n",
                    $down >= 1 && $once && $once_back && $back == $down
                    ? 'yes' : "no ($down down, $back back)";

    write_html('result.txt', $out);
}

# Redis frozen: lookups time out, within the timeout
sub frozen {
    my $out = line('prime', get('f1', 'secret1'));

    redis_signal('main', 'STOP');

    my $res = get('f1', 'secret1');
    $out .= line('cached', $res);
    $out .= sprintf "cached fast: %s\n", $res->{time} < 0.2 ? 'yes' : 'no';

    my @down = map { get('f2', 'secret1') } 1 .. 4;
    my %seen;
    $seen{ line('uncached', $_) }++ for @down;
    $out .= join '', sort keys %seen;
    my $slowest = (sort { $b <=> $a } map { $_->{time} } @down)[0];
    $out .= sprintf "503 within the timeout: %s\n",
                    $slowest < 0.7 ? 'yes' : "no ($slowest s)";

    redis_signal('main', 'CONT');

    $out .= line('recovered', wait_status(200, 8, 'f2', 'secret1'));

    write_html('result.txt', $out);
}

# a device id published on the channel is refused at once
sub revocation {
    my $out = line('prime rv1', get('rv1', 'secret1'));
    $out .= line('prime rv2', get('rv2', 'secret1'));

    redis_cli('main', 'HSET', 'iot:device:rv1', 'disabled', 1);
    $out .= line('disabled but cached', get('rv1', 'secret1'));

    poll(3, sub {
        (split /\n/, redis_cli('main', 'PUBSUB', 'NUMSUB', 'iot:revoke'))[1]
        eq '1'
    });

    my $t0 = time;
    $out .= sprintf "subscribers reached: %s\n",
                    redis_cli('main', 'PUBLISH', 'iot:revoke', 'rv1');

    my $res = wait_status(401, 1, 'rv1', 'secret1');
    $out .= line('revoked', $res);
    $out .= sprintf "within 1s: %s\n", time - $t0 < 1 ? 'yes' : 'no';
    $out .= line('other device', get('rv2', 'secret1'));

    redis_cli('main', 'PUBLISH', 'iot:revoke', 'bad id');
    poll(1, sub { scalar log_lines(qr/ignored a malformed device id/) });

    write_html('result.txt', $out);
}

# ttl=1s: a new stored hash turns the old token away once the ttl is over
sub hash_change {
    my $out = line('prime', get('ch1', 'secret1'));

    redis_cli('main', 'HSET', 'iot:device:ch1', 'hash', $H2);

    $out .= line('within ttl', get('ch1', 'secret1'));
    sleep 1.1;
    $out .= line('old token', get('ch1', 'secret1'));
    $out .= line('new token', get('ch1', 'secret2'));

    redis_cli('main', 'HSET', 'iot:device:ch1', 'hash', $H1);

    write_html('result.txt', $out);
}

# 50 at once for a cold device: one HMGET, one bcrypt
sub herd50 {
    redis_cli('main', 'CONFIG', 'RESETSTAT');

    my @r = herd([ map { p_req('hd1', 'secret1') } 1 .. 50 ]);

    my $status = http_get('/status')->{body};
    my ($match) = $status =~ /outcome="match"\} (\d+)/;

    write_html('result.txt', tally(@r)
                             . sprintf "hmget %d\nbcrypt %s\n",
                                       hmget_calls('main'), $match // '?');
}

# ten devices at once with room for one bcrypt per worker: the lookups
# all come back before a bcrypt ends, and only one per worker may start
sub admission {
    my @r = herd([ map { p_req("mp$_", 'secret1') } 1 .. 10 ]);

    my $status = http_get('/status')->{body};
    my ($match) = $status =~ /outcome="match"\} (\d+)/;
    my $ok = grep { $_->{status} eq '200' } @r;
    my $busy = grep { $_->{status} eq '503' } @r;

    write_html('result.txt',
               sprintf "one bcrypt per worker at most: %s\n"
                       . "the others busy: %s\nbcrypt per 200: %s\n",
                       $ok >= 1 && $ok <= 2 ? 'yes' : "no ($ok)",
                       $ok + $busy == 10 ? 'yes' : 'no',
                       ($match // -1) == $ok ? 'yes' : 'no');
}

# ttl=1s, stale_if_error=30s: with Redis down an expired verdict passes
sub stale {
    my $out = line('prime', get('st1', 'secret1'));

    sleep 1.1;
    redis_stop('main');
    sleep 0.2;

    $out .= line('same token', get('st1', 'secret1'));
    $out .= line('other token', get('st1', 'secret2'));
    $out .= line('other device', get('st2', 'secret1'));

    redis_start('main');
    populate();

    write_html('result.txt', $out);
}

# an error reply (an ACL forbids HMGET): 503, logged a line a second
sub error_reply {
    redis_cli('auth', 'ACL', 'SETUSER', 'default', '-hmget');

    my %seen;
    $seen{ line('pw1', get('pw1', 'secret1')) }++ for 1 .. 6;

    redis_cli('auth', 'ACL', 'SETUSER', 'default', '+hmget');

    my ($workers, $once) =
        per_worker(qr/redis HMGET "iot:device:pw1" failed: /);

    write_html('result.txt', join('', sort keys %seen)
                             . sprintf "logged: %s\nonce per worker: %s\n",
                                       $workers ? 'yes' : 'no',
                                       $once ? 'yes' : 'no');
}

sub odd_replies {
    my $out = '';
    for my $d (qw(int status nil nullarr empty two four nested intfield
                  errfield many good))
    {
        $out .= line($d, get($d, 'secret1'));
    }

    $out .= line('garbage', get('garbage', 'secret1'));
    $out .= line('then', wait_status(200, 3, 'good', 'secret1'));

    write_html('result.txt', $out);
}

# an nginx of its own (2 workers, Redis "auth"): a reload, then a stop
# with a lookup in flight, and what they leave behind
sub lifecycle {
    my $port = gateway_start('life', http => <<"_EOC_", server => <<'_EOC_');
    iot_auth_zone zone=life:1m;
    iot_auth_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_AUTH_PORT}
                   password=$Password timeout=500ms revoke_channel=life;
_EOC_
        location = /p {
            iot_auth zone=life;
            iot_auth_credentials redis;
            empty_gif;
        }
_EOC_

    # the port answers before the master has written its pid
    my $master;
    my $up = poll(5, sub {
        $master = gateway_master('life') or return 0;
        my @workers = worker_pids($master);
        @workers == 2;
    });

    # whatever happens, this nginx does not outlive the block
    my $out = eval {
        die "nginx did not start its workers\n" unless $up;
        lifecycle_steps($master, $port);
    };
    my $err = $@;

    redis_signal('auth', 'CONT');

    if (!defined $out) {
        gateway_kill('life');
        die $err;
    }

    gateway_stop('life');
    write_html('result.txt', $out);
}

sub lifecycle_steps {
    my ($master, $port) = @_;

    my $out = line('before reload', get('life1', 'secret1', port => $port));
    $out .= sprintf "connections: %d\n", redis_clients('auth', 3);

    my @old = worker_pids($master);
    kill 'HUP', $master;
    poll(5, sub {
        my @now = worker_pids($master);
        my %now = map { $_ => 1 } @now;
        @now == 2 && !grep { $now{$_} } @old;
    });

    $out .= line('after reload', get('life2', 'secret1', port => $port));
    $out .= sprintf "connections: %d\n", redis_clients('auth', 3);

    redis_signal('auth', 'STOP');

    my @r = herd([p_req('life3', 'x')],
                 port => $port, timeout => 5,
                 at => [0.1, sub { kill 'QUIT', $master }]);
    $out .= "in flight at stop: $r[0]{status}\n";

    poll(5, sub { !kill 0, $master });
    redis_signal('auth', 'CONT');

    $out .= sprintf "stopped: %s\n", kill(0, $master) ? 'no' : 'yes';
    $out .= sprintf "connections left: %d\n", redis_clients('auth', 0);

    my @bad = gateway_log('life',
                          qr/open socket|\[alert\]|\[crit\]|\[emerg\]/);
    warn "# $_" for @bad;
    $out .= sprintf "alerts: %d\n", scalar @bad;

    return $out;
}

1;

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthRedis qw(free_port redis_start redis_stop redis_signal redis_cli
                    fake_redis_start http_get);
use IotAuthTest qw(herd tally write_html);
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

# Two real redis-server instances, started here on free ports and killed
# when the file ends: "main" (TCP and a unix socket) and "auth" (with a
# password), and a fake one that sends odd replies.  Configs reach them as
# $TEST_NGINX_REDIS_PORT, $TEST_NGINX_REDIS_SOCKET,
# $TEST_NGINX_REDIS_AUTH_PORT and $TEST_NGINX_REDIS_FAKE_PORT.

our $Password = 'pw-0f1e2d3c';

our $Sock = tempdir('iot-redis-sock-XXXXXX', TMPDIR => 1, CLEANUP => 1);

$ENV{TEST_NGINX_REDIS_PORT} = free_port();
$ENV{TEST_NGINX_REDIS_SOCKET} = "$Sock/redis.sock";
$ENV{TEST_NGINX_REDIS_AUTH_PORT} = free_port();
$ENV{TEST_NGINX_REDIS_FAKE_PORT} = free_port();

redis_start('main', port => $ENV{TEST_NGINX_REDIS_PORT},
            socket => $ENV{TEST_NGINX_REDIS_SOCKET});
redis_start('auth', port => $ENV{TEST_NGINX_REDIS_AUTH_PORT},
            password => $Password);

# bcrypt hashes from libcrypt through Perl's crypt(): cost 4, and cost 10
# (~45 ms) where a herd must pile up behind one verification
sub bcrypt {
    my ($password, $cost) = @_;

    return crypt($password, sprintf '$2b$%02d$abcdefghijklmnopqrstuu',
                            $cost // 4);
}

our $H1 = bcrypt('secret1');
our $H2 = bcrypt('secret2');
our $Slow = bcrypt('secret1', 10);

die "this libcrypt makes no bcrypt hashes" if length $H1 != 60;

# (re)creates every record: the data of a restarted Redis is gone
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

populate();

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

fake_redis_start('fake', $ENV{TEST_NGINX_REDIS_FAKE_PORT}, \%Odd);

sub creds { "X-Device-Id: $_[0]\nX-Device-Token: $_[1]\n" }

sub get {
    my ($device, $token, %opts) = @_;

    return http_get('/p', { 'X-Device-Id' => $device,
                            'X-Device-Token' => $token }, %opts);
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

# one request per [device, token], one line each in result.txt
sub probe {
    write_html('result.txt',
               join '', map { line("$_->[0]/$_->[1]", get(@$_)) } @_);
}

sub log_lines {
    my ($re, $file) = @_;

    $file //= "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log";

    open my $fh, '<', $file or die "$file: $!";
    return grep { $_ =~ $re } <$fh>;
}

# how many workers logged a line, and whether none logged it twice
sub per_worker {
    my ($re) = @_;

    my %n;
    $n{$_}++ for map { /\] (\d+)#/ ? $1 : () } log_lines($re);

    return (scalar keys %n, !grep { $_ > 1 } values %n);
}

sub poll {
    my ($secs, $cond) = @_;

    my $deadline = time + $secs;
    while (time < $deadline) {
        my $res = $cond->();
        return $res if $res;
        sleep 0.05;
    }
    return $cond->();
}

sub wait_status {
    my ($want, $secs, @req) = @_;

    my $res;
    poll($secs, sub { $res = get(@req); $res->{status} eq $want });
    return $res;
}

sub hmget_calls {
    my $info = redis_cli('main', 'INFO', 'commandstats');
    return $info =~ /^cmdstat_hmget:calls=(\d+)/m ? $1 : 0;
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

    my @r = herd([ map { { uri => '/p',
                           headers => { 'X-Device-Id' => 'hd1',
                                        'X-Device-Token' => 'secret1' } } }
                   1 .. 50 ]);

    my $status = http_get('/status')->{body};
    my ($match) = $status =~ /outcome="match"\} (\d+)/;

    write_html('result.txt', tally(@r) . sprintf "hmget %d\nbcrypt %s\n",
                                                 hmget_calls(), $match // '?');
}

# ten devices at once with room for one bcrypt per worker: the lookups
# all come back before a bcrypt ends, and only one per worker may start
sub admission {
    my @r = herd([ map { { uri => '/p',
                           headers => { 'X-Device-Id' => "mp$_",
                                        'X-Device-Token' => 'secret1' } } }
                   1 .. 10 ]);

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

sub children {
    my ($ppid) = @_;

    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $s, '<', $stat or next;
        my $l = <$s> // '';
        push @pids, $1 if $l =~ /^(\d+) \(nginx\) \S (\d+)/ && $2 == $ppid;
    }
    return sort { $a <=> $b } @pids;
}

# clients of Redis "auth" but redis-cli, once they number $want (2 s max)
sub nginx_clients {
    my ($want) = @_;

    my $n;
    poll(2, sub {
        $n = grep { /^id=/ } split /\n/, redis_cli('auth', 'CLIENT', 'LIST');
        --$n == $want;
    });
    return $n;
}

# an nginx of its own (2 workers, Redis "auth"): a reload, then a stop
# with a lookup in flight, and what they leave behind
sub lifecycle {
    my $dir = tempdir('iot-life-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $port = free_port();
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $modules = join '', map { "load_module $_;\n" }
                           split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    my $user = $> == 0 ? 'user root;' : '';

    mkdir "$dir/$_" for qw(conf logs tmp);
    open my $fh, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $fh <<"_EOC_";
$modules
$user
daemon on;
master_process on;
worker_processes 2;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
thread_pool iot_auth threads=2;
events { worker_connections 128; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    iot_auth_zone zone=life:1m;
    iot_auth_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_AUTH_PORT}
                   password=$Password timeout=500ms revoke_channel=life;
    server {
        listen 127.0.0.1:$port;
        location = /p {
            iot_auth zone=life;
            iot_auth_credentials redis;
            empty_gif;
        }
    }
}
_EOC_
    close $fh;

    system($bin, '-p', "$dir/", '-c', 'conf/nginx.conf') == 0
        or die "nginx did not start, see $dir/logs/error.log";

    my $master;
    my $up = poll(5, sub {
        open my $p, '<', "$dir/logs/nginx.pid" or return;
        chomp($master = <$p> // '');
        my @workers = $master ? children($master) : ();
        @workers == 2;
    });

    # whatever happens, this nginx does not outlive the block
    my $out = eval {
        die "nginx did not start its workers\n" unless $up;
        lifecycle_steps($master, $port, $dir);
    };
    my $err = $@;

    redis_signal('auth', 'CONT');

    if (!defined $out) {
        kill 'TERM', $master if $master;
        die $err;
    }

    write_html('result.txt', $out);
}

sub lifecycle_steps {
    my ($master, $port, $dir) = @_;

    my $out = line('before reload', get('life1', 'secret1', port => $port));
    $out .= sprintf "connections: %d\n", nginx_clients(3);

    my @old = children($master);
    kill 'HUP', $master;
    poll(5, sub {
        my @now = children($master);
        my %now = map { $_ => 1 } @now;
        @now == 2 && !grep { $now{$_} } @old;
    });

    $out .= line('after reload', get('life2', 'secret1', port => $port));
    $out .= sprintf "connections: %d\n", nginx_clients(3);

    redis_signal('auth', 'STOP');

    my @r = herd([{ uri => '/p', headers => { 'X-Device-Id' => 'life3',
                                              'X-Device-Token' => 'x' } }],
                 port => $port, timeout => 5,
                 at => [0.1, sub { kill 'QUIT', $master }]);
    $out .= "in flight at stop: $r[0]{status}\n";

    poll(5, sub { !kill 0, $master });
    redis_signal('auth', 'CONT');

    $out .= sprintf "stopped: %s\n", kill(0, $master) ? 'no' : 'yes';
    $out .= sprintf "connections left: %d\n", nginx_clients(0);

    my @bad = log_lines(qr/open socket|\[alert\]|\[crit\]|\[emerg\]/,
                        "$dir/logs/error.log");
    warn "# $_" for @bad;
    $out .= sprintf "alerts: %d\n", scalar @bad;

    return $out;
}

master_on();
workers(2);
worker_connections(1024);
repeat_each(1);
no_shuffle();
no_long_string();
log_level('info');
check_accum_error_log();

my $http_config = <<'_EOC_';
    iot_auth_zone zone=iot:1m ttl=30s;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=300ms
                   revoke_channel=iot:revoke;
_EOC_

my $config = <<'_EOC_';
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
    }

    location = /status {
        iot_auth_status;
    }
_EOC_

add_block_preprocessor(sub {
    my ($block) = @_;

    $block->set_value(main_config => 'thread_pool iot_auth threads=2;')
        if !defined $block->main_config;
    $block->set_value(http_config => $http_config)
        if !defined $block->http_config;
    $block->set_value(config => $config) if !defined $block->config;
    $block->set_value(user_files => ">>> p\nok\n")
        if !defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: a good token, a wrong one, an unknown device
--- init
::probe([dev1 => 'secret1'], [dev1 => 'wrong1'], [nobody => 'secret1'],
        [dev1 => 'secret1']);
--- request
GET /result.txt
--- response_body
dev1/secret1 200 MISS perms=5
dev1/wrong1 401 DENIED
nobody/secret1 401 UNKNOWN
dev1/secret1 200 HIT perms=5
--- error_log
iot_auth: device "dev1" rejected: wrong token
iot_auth: device "nobody" rejected: unknown device
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: records Redis cannot vouch for, and a 100 KB field
--- init
::probe([dis => 'secret1'], [str => 'secret1'], [badhash => 'secret1'],
        [badperms => 'secret1'], [nohash => 'secret1'],
        [huge => 'secret1'], [enabled => 'secret1'],
        [enabled => 'secret1']);
--- request
GET /result.txt
--- response_body
dis/secret1 401 UNKNOWN
str/secret1 401 UNKNOWN
badhash/secret1 401 UNKNOWN
badperms/secret1 401 UNKNOWN
nohash/secret1 401 UNKNOWN
huge/secret1 401 UNKNOWN
enabled/secret1 200 MISS perms=16
enabled/secret1 200 HIT perms=16
--- error_log
iot_auth: device disabled by redis key "iot:device:dis"
iot_auth: redis key "iot:device:str" is not a hash
iot_auth: redis key "iot:device:badhash" has no valid "hash" field
iot_auth: redis key "iot:device:badperms" has an invalid "perms" field
iot_auth: redis key "iot:device:nohash" has no valid "hash" field
iot_auth: redis key "iot:device:huge" has no valid "hash" field
--- no_error_log eval
[qr/\$2b\$04\$/, qr/xxxxxxxx/, "is unavailable", "[alert]", "[crit]",
 qr/\[error\].*disabled by redis/]



=== TEST 3: iot_auth_redis_key puts the device after another prefix
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:a:;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
    }
--- request eval
[("GET /p") x 2]
--- more_headers eval
[main::creds("t1", "secret1"), main::creds("dev1", "secret1")]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Result: MISS\nX-Perms: 7", "X-Result: UNKNOWN"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: two prefixes sharing a zone never take each other's verdicts
--- config
    location = /a {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:a:;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }

    location = /b {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:b:;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- request eval
["GET /a", "GET /b", "GET /b", "GET /a"]
--- more_headers eval
[main::creds("t1", "secret1"), main::creds("t1", "secret1"),
 main::creds("t1", "secret2"), main::creds("t1", "secret2")]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Result: MISS", "X-Result: DENIED", "X-Result: MISS", "X-Result: DENIED"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: iot_auth_max_pending holds while store lookups are in flight
--- main_config
    thread_pool iot_auth threads=1;
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=5s;
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_max_pending 1;
        empty_gif;
    }

    location = /status {
        iot_auth_status;
    }
--- init
::admission();
--- request
GET /result.txt
--- response_body
one bcrypt per worker at most: yes
the others busy: yes
bcrypt per 200: yes
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: db= selects the database
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=3;
--- request eval
[("GET /p") x 2]
--- more_headers eval
[main::creds("db3", "secret1"), main::creds("dev1", "secret1")]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Result: MISS", "X-Result: UNKNOWN"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: password= authenticates
--- http_config eval
"    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:\$TEST_NGINX_REDIS_AUTH_PORT
                   password=$::Password db=0 connect_timeout=500ms;"
--- request eval
[("GET /p") x 2]
--- more_headers eval
[main::creds("pw1", "secret1"), main::creds("pw1", "secret1")]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Result: MISS", "X-Result: HIT"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 8: a wrong password is an outage: 503, said once per worker
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_AUTH_PORT password=wrong;
--- request eval
[("GET /p") x 3]
--- more_headers eval
[(main::creds("pw1", "secret1")) x 3]
--- error_code eval
[503, 503, 503]
--- response_headers eval
[("Retry-After: 1\nX-Result: ERROR") x 3]
--- error_log eval
qr/\[error\].*iot_auth: redis "127\.0\.0\.1:\d+" is unavailable: WRONGPASS/
--- grep_error_log eval
qr/is unavailable: \w+/
--- grep_error_log_out
is unavailable: WRONGPASS
is unavailable: WRONGPASS
--- no_error_log
[alert]
[crit]



=== TEST 9: an error reply is a failure to answer: 503, not a flood of lines
--- http_config eval
"    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:\$TEST_NGINX_REDIS_AUTH_PORT password=$::Password;"
--- init
::error_reply();
--- request
GET /result.txt
--- response_body
pw1 503 ERROR retry=1
logged: yes
once per worker: yes
--- error_log eval
qr/\[error\].*iot_auth: redis HMGET "iot:device:pw1" failed: NOPERM/
--- no_error_log
is unavailable
[alert]
[crit]



=== TEST 10: replies of any shape: 503 and a line, never a crash
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_FAKE_PORT;
--- init
::odd_replies();
--- request
GET /result.txt
--- response_body
int 503 ERROR retry=1
status 503 ERROR retry=1
nil 503 ERROR retry=1
nullarr 503 ERROR retry=1
empty 503 ERROR retry=1
two 503 ERROR retry=1
four 503 ERROR retry=1
nested 503 ERROR retry=1
intfield 503 ERROR retry=1
errfield 503 ERROR retry=1
many 503 ERROR retry=1
good 200 MISS perms=9
garbage 503 ERROR retry=1
then 200 HIT perms=9
--- error_log eval
[qr/redis sent an unexpected reply to HMGET "iot:device:int"/,
 qr/redis sent an unexpected reply to HMGET "iot:device:errfield"/,
 qr/redis sent an unexpected reply to HMGET "iot:device:many"/,
 qr/is unavailable: Protocol error/]
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 11: a unix socket
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis unix:$TEST_NGINX_REDIS_SOCKET;
--- request eval
[("GET /p") x 2]
--- more_headers eval
[main::creds("uds1", "secret1"), main::creds("uds1", "secret1")]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Result: MISS", "X-Result: HIT"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 12: Redis killed and restarted: cache served, 503, recovery
--- init
::outage();
--- request
GET /result.txt
--- response_body
prime 200 MISS perms=5
cached 200 HIT perms=5
uncached 503 ERROR retry=1
recovered 200 MISS perms=5
outage logged once per worker: yes
--- no_error_log
[alert]
[crit]



=== TEST 13: Redis frozen: 503 within the timeout, then recovery
--- init
::frozen();
--- request
GET /result.txt
--- response_body
prime 200 MISS perms=5
cached 200 HIT perms=5
cached fast: yes
uncached 503 ERROR retry=1
503 within the timeout: yes
recovered 200 MISS perms=5
--- error_log eval
qr/\[error\].*iot_auth: redis "[\d.:]+" is unavailable: no reply in 300ms/
--- no_error_log
[alert]
[crit]



=== TEST 14: a device id published on revoke_channel is refused at once
--- init
::revocation();
--- request
GET /result.txt
--- response_body
prime rv1 200 MISS perms=5
prime rv2 200 MISS perms=5
disabled but cached 200 HIT perms=5
subscribers reached: 1
revoked 401 UNKNOWN
within 1s: yes
other device 200 HIT perms=5
--- error_log eval
['iot_auth: device "rv1" revoked',
 "ignored a malformed device id of 6 bytes published on redis channel"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 15: a new hash in Redis refuses the old token after the ttl
--- http_config
    iot_auth_zone zone=iot:1m ttl=1s;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- init
::hash_change();
--- request
GET /result.txt
--- response_body
prime 200 MISS perms=5
within ttl 200 HIT perms=5
old token 401 DENIED
new token 200 MISS perms=5
--- no_error_log
[error]
[alert]
[crit]



=== TEST 16: a herd of 50 for a cold device: one HMGET, one bcrypt
--- init
::herd50();
--- request
GET /result.txt
--- response_body
200:50
hmget 1
bcrypt 1
--- no_error_log
[error]
[alert]
[crit]



=== TEST 17: stale_if_error: Redis down, an expired verdict passes as STALE
--- http_config
    iot_auth_zone zone=iot:1m ttl=1s;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_stale_if_error 30s;
        add_header X-Result $iot_auth_result always;
    }
--- init
::stale();
--- request
GET /result.txt
--- response_body
prime 200 MISS
same token 200 STALE
other token 503 ERROR retry=1
other device 503 ERROR retry=1
--- no_error_log
[alert]
[crit]



=== TEST 18: a reload and a stop (with a lookup in flight) leave nothing open
--- init
::lifecycle();
--- request
GET /result.txt
--- response_body
before reload 200 -
connections: 3
after reload 200 -
connections: 3
in flight at stop: 503
stopped: yes
connections left: 0
alerts: 0
--- no_error_log
[error]
[alert]
[crit]



=== TEST 19: a bad port
--- http_config
    iot_auth_redis 127.0.0.1:99999;
--- config
--- must_die
--- error_log
[emerg]
invalid port in redis address "127.0.0.1:99999"



=== TEST 20: a path after the address
--- http_config
    iot_auth_redis 127.0.0.1/1;
--- config
--- must_die
--- error_log
[emerg]
invalid host in redis address "127.0.0.1/1"



=== TEST 21: a bad db
--- http_config
    iot_auth_redis 127.0.0.1 db=-1;
--- config
--- must_die
--- error_log
[emerg]
invalid db "db=-1"



=== TEST 22: a zero timeout
--- http_config
    iot_auth_redis 127.0.0.1 timeout=0;
--- config
--- must_die
--- error_log
[emerg]
invalid timeout "timeout=0"



=== TEST 23: a bad connect_timeout
--- http_config
    iot_auth_redis 127.0.0.1 connect_timeout=soon;
--- config
--- must_die
--- error_log
[emerg]
invalid connect_timeout "connect_timeout=soon"



=== TEST 24: an empty password
--- http_config
    iot_auth_redis 127.0.0.1 password=;
--- config
--- must_die
--- error_log
[emerg]
empty redis password



=== TEST 25: an empty revoke_channel
--- http_config
    iot_auth_redis 127.0.0.1 revoke_channel=;
--- config
--- must_die
--- error_log
[emerg]
invalid revoke_channel "revoke_channel="



=== TEST 26: an unknown parameter
--- http_config
    iot_auth_redis 127.0.0.1 pool=4;
--- config
--- must_die
--- error_log
[emerg]
invalid parameter "pool=4"



=== TEST 27: two endpoints
--- http_config
    iot_auth_redis 127.0.0.1;
    iot_auth_redis 127.0.0.2;
--- config
--- must_die
--- error_log
[emerg]
"iot_auth_redis" directive is duplicate

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthRedis qw(free_port redis_start redis_stop redis_cli http_get);
use IotAuthTest qw(write_html poll);
use IotAuthFleet qw(gateway_start gateway_stop gateway_log sentinel_start
                    sentinel_cli);
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

# Redis Sentinel and Redis 6 ACL users, with real parts: a master and a
# replica (redis-server) watched by one redis-sentinel (quorum 1), two
# gateways in fleet mode that find the master through the sentinel, and
# a Redis with an ACL user.

our $Dir = tempdir('iot-sentinel-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $Dir;

$ENV{TEST_NGINX_FLEET_DIR} = $Dir;
$ENV{TEST_NGINX_MASTER_PORT} = free_port();
$ENV{TEST_NGINX_REPLICA_PORT} = free_port();
$ENV{TEST_NGINX_SENTINEL_PORT} = free_port();
$ENV{TEST_NGINX_CLOSED_PORT} = free_port();
$ENV{TEST_NGINX_ACL_PORT} = free_port();

open my $fh, '>', "$Dir/secret" or die "$Dir/secret: $!";
print $fh "sentinel-test-key-0123456789abcdefghijklm\n";
close $fh;

our $H1 = crypt('secret1', '$2b$04$abcdefghijklmnopqrstuu');

die "this libcrypt makes no bcrypt hashes" if length $H1 != 60;

redis_start('master', port => $ENV{TEST_NGINX_MASTER_PORT});
redis_start('replica', port => $ENV{TEST_NGINX_REPLICA_PORT});
redis_cli('replica', 'REPLICAOF', '127.0.0.1', $ENV{TEST_NGINX_MASTER_PORT});

for my $d (qw(c1 c2 c3 d1), map { "n$_" } 1 .. 100) {
    redis_cli('master', 'HSET', "iot:device:$d", 'hash', $H1);
}

redis_start('acl', port => $ENV{TEST_NGINX_ACL_PORT});
redis_cli('acl', 'ACL', 'SETUSER', 'gw', 'on', '>gw-pass', '~*', '&*',
          '+@all');
redis_cli('acl', 'ACL', 'SETUSER', 'default', 'off');
redis_cli('acl', '--user', 'gw', '--pass', 'gw-pass', '--no-auth-warning',
          'HSET', 'iot:device:u1', 'hash', $H1);


# the replica has caught up and the sentinel knows it
poll(10, sub {
    redis_cli('replica', 'INFO', 'replication') =~ /master_link_status:up/
    && redis_cli('replica', 'EXISTS', 'iot:device:n100') eq '1'
});

sentinel_start('s1', port => $ENV{TEST_NGINX_SENTINEL_PORT},
               master => 'iotmaster',
               master_port => $ENV{TEST_NGINX_MASTER_PORT});

poll(10, sub {
    sentinel_cli('s1', 'SENTINEL', 'replicas', 'iotmaster')
    =~ /$ENV{TEST_NGINX_REPLICA_PORT}/
});

sub http_conf {
    return <<"_EOC_";
    iot_auth_zone zone=iot:1m ttl=30s;
    iot_auth_redis sentinel=127.0.0.1:$ENV{TEST_NGINX_CLOSED_PORT},127.0.0.1:$ENV{TEST_NGINX_SENTINEL_PORT}
                   master=iotmaster timeout=300ms connect_timeout=300ms
                   revoke_channel=iot:revoke;
    iot_auth_fleet on;
    iot_auth_secret_file $Dir/secret;
_EOC_
}

sub server_conf {
    return <<"_EOC_";
        location = /r {
            iot_auth zone=iot;
            iot_auth_credentials redis;
            add_header X-Result \$iot_auth_result always;
            empty_gif;
        }
_EOC_
}

our %Port;

sub get {
    my ($gw, $dev) = @_;

    my $res = http_get('/r', { 'X-Device-Id' => $dev,
                               'X-Device-Token' => 'secret1' },
                       port => $Port{$gw}, timeout => 3);

    return "$res->{status} " . ($res->{headers}{'x-result'} // '-');
}

# the master dies: cached devices go on, new ones are verified again once
# the sentinel has promoted the replica, and verdicts are shared again
sub failover {
    $Port{a} = $ENV{TEST_NGINX_SERVER_PORT};
    $Port{b} = gateway_start('b', http => http_conf(),
                             server => server_conf());

    # both have asked the sentinels where the master is
    poll(5, sub { get(a => 'd1') =~ /^200/ && get(b => 'd1') =~ /^200/ });

    my $out = '';
    $out .= "a c1: " . get(a => 'c1') . "\n";
    $out .= "b c1: " . get(b => 'c1') . "\n";
    $out .= "b c2: " . get(b => 'c2') . "\n";
    $out .= "a c2: " . get(a => 'c2') . "\n";

    redis_stop('master');
    my $t0 = time;

    my ($cached_failed, $n, $resumed) = (0, 0, 0);

    while (time - $t0 < 20) {
        for my $gw (qw(a b)) {
            for my $dev (qw(c1 c2)) {
                $cached_failed++ if get($gw => $dev) !~ /^200/;
            }
        }

        $n++;
        if (get(a => "n$n") =~ /^200/ && get(b => "n$n") =~ /^200 SHARED/) {
            $resumed = time - $t0;
            last;
        }

        sleep 0.1;
    }

    $out .= "cached devices failed: $cached_failed\n";
    $out .= sprintf "new verifications resumed, shared: %s\n",
                    $resumed ? 'yes' : 'no';
    $out .= "a c3: " . get(a => 'c3') . "\n";
    $out .= "b c3: " . get(b => 'c3') . "\n";

    my $port = $ENV{TEST_NGINX_REPLICA_PORT};
    $out .= sprintf "b follows the new master: %s\n",
                    gateway_log('b', qr/redis master "iotmaster" is at 127\.0\.0\.1:$port/)
                    ? 'yes' : 'no';

    warn sprintf "# failover: new verifications resumed after %.1f s\n",
                 $resumed if $resumed;

    gateway_stop('b');
    write_html('result.txt', $out);
}

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

=== TEST 1: sentinel= needs master=
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis sentinel=127.0.0.1:$TEST_NGINX_SENTINEL_PORT;
--- config
--- must_die
--- error_log
"sentinel=" requires "master="



=== TEST 2: master= without sentinel= is no parameter
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_MASTER_PORT master=iotmaster;
--- config
--- must_die
--- error_log
invalid parameter "master=iotmaster"



=== TEST 3: a sentinel on a unix socket is refused
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis sentinel=unix:/tmp/s.sock master=iotmaster;
--- config
--- must_die
--- error_log
invalid sentinel address in "sentinel=unix:/tmp/s.sock"



=== TEST 4: user= needs password=
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_ACL_PORT user=gw;
--- config
--- must_die
--- error_log
"user=" requires "password="



=== TEST 5: user= logs in as a Redis 6 ACL user
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_ACL_PORT user=gw password=gw-pass;
--- request
GET /r
--- more_headers
X-Device-Id: u1
X-Device-Token: secret1
--- response_headers
X-Result: MISS
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: a wrong ACL password: the error Redis sent, and 503
--- http_config
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_ACL_PORT user=gw password=nope;
--- request
GET /r
--- more_headers
X-Device-Id: u1
X-Device-Token: secret1
--- error_code: 503
--- response_headers
X-Result: ERROR
--- error_log eval
qr/redis "127\.0\.0\.1:\d+" is unavailable: WRONGPASS/
--- no_error_log
[alert]
[crit]



=== TEST 7: the master is found through the sentinels, the first one down
--- init
Time::HiRes::sleep(0.5);
--- request
GET /r
--- more_headers
X-Device-Id: d1
X-Device-Token: secret1
--- response_headers
X-Result: MISS
--- error_log eval
[qr/redis sentinel "127\.0\.0\.1:\d+" is unavailable/,
 qr/redis master "iotmaster" is at 127\.0\.0\.1:\d+, says sentinel/]
--- no_error_log
[alert]
[crit]



=== TEST 8: the master dies: cached devices never fail, verifications resume on the new master
--- init
::failover();
--- request
GET /result.txt
--- response_body
a c1: 200 MISS
b c1: 200 SHARED
b c2: 200 MISS
a c2: 200 SHARED
cached devices failed: 0
new verifications resumed, shared: yes
a c3: 200 MISS
b c3: 200 SHARED
b follows the new master: yes
--- no_error_log
[alert]
[crit]

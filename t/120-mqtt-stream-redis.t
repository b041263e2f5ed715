use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest ();
use IotAuthMqtt qw(mosquitto_start);
use IotAuthRedis qw(free_port redis_start redis_stop redis_cli);
use IotAuthStream qw(stream_block zone_summary);

# The MQTT front end with the Redis store: a real redis-server and a
# real mosquitto, started here.  Devices of Redis are let in, refused,
# revoked through the revocation channel; with Redis down a cold device
# gets "server unavailable" while a cached one still connects.  The
# http{} block of the same nginx uses the file store and has no
# iot_auth_redis: its module, another .so, must not lend the stream
# module its Redis state, nor borrow it.

our $Broker = mosquitto_start('broker');

$ENV{TEST_NGINX_REDIS_PORT} = free_port();
redis_start('main', port => $ENV{TEST_NGINX_REDIS_PORT});

our $Hash = IotAuthTest::bcrypt_hash('s3cret', 4);
our $Other = IotAuthTest::bcrypt_hash('n3w', 4);

# the records, again before each block (a restarted Redis is empty)
sub populate {
    redis_cli('main', 'FLUSHALL');
    redis_cli('main', 'HSET', "iot:device:$_", 'hash', $Hash, 'perms', 3)
        for qw(dev-1 dev-2);
    redis_cli('main', 'HSET', 'iot:device:off', 'hash', $Hash,
              'disabled', 1);
}

log_level('info');
timeout(10);
repeat_each(1);
no_shuffle();
no_long_string();
check_accum_error_log();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => stream_block($Broker,
        credentials => 'redis',
        stream => 'iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT '
                  . "timeout=300ms\n"
                  . '               revoke_channel=iot:revoke;'))
        unless defined $block->main_config;

    $block->set_value(user_files => ">>> creds\nhttp-1:$Hash\n>>> p\nok\n")
        unless defined $block->user_files;

    $block->set_value(http_config => "    iot_auth_zone zone=iot:1m;\n")
        unless defined $block->http_config;

    $block->set_value(config => <<'_EOC_')
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }

    location = /status {
        iot_auth_status;
    }
_EOC_
        unless defined $block->config;

    $block->set_value(response_body_filters => zone_summary('mqtt'))
        unless defined $block->response_body_filters;
});

# one paho client: "CONNACK n" (with a round trip when it is let in)
sub client {
    my ($v, $user, $pass, $id) = @_;

    return IotAuthMqtt::mqtt_client(port => $ENV{TEST_NGINX_MQTT_PORT},
                                    version => $v, id => $id,
                                    username => $user, password => $pass,
                                    roundtrip => "$id/t");
}

# an HTTP request of the file store's device, in the same nginx
sub http {
    my ($r) = IotAuthTest::herd([ IotAuthTest::p_req('http-1', 's3cret') ]);
    return "http: $r->{status}";
}

run_tests();

__DATA__

=== TEST 1: devices of Redis: let in, wrong password, disabled, unknown; HTTP with its file store alongside
--- init
main::populate();
IotAuthTest::write_html('r.txt', join '', map { "$_\n" }
    main::client('3.1.1', 'dev-1', 's3cret', 't1-a'),
    main::http(),
    main::client('5', 'dev-1', 's3cret', 't1-b'),
    main::client('3.1.1', 'dev-1', 'wrong', 't1-c'),
    main::client('5', 'off', 's3cret', 't1-d'),
    main::client('3.1.1', 'nobody', 's3cret', 't1-e'),
    IotAuthStream::mqtt_log(5));
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["CONNACK 0 ROUNDTRIP ok
http: 200
CONNACK 0 ROUNDTRIP ok
CONNACK 4
CONNACK 134
CONNACK 4
dev-1 MISS 3 200
dev-1 HIT 3 200
dev-1 DENIED - 403
off UNKNOWN - 403
nobody UNKNOWN - 403
",
"frontend mqtt
hit 1
miss 1
denied 1
unknown 2
match 1
mismatch 1
entries 3
"]
--- error_log
iot_auth: device "off" rejected: unknown device
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: Redis down: a cached device still connects, a cold one gets CONNACK 3 / 0x88
--- init
main::populate();
my @r = (main::client('3.1.1', 'dev-1', 's3cret', 't2-a'));
redis_stop('main');
push @r, main::client('3.1.1', 'dev-1', 's3cret', 't2-b'),
         main::client('3.1.1', 'dev-2', 's3cret', 't2-c'),
         main::client('5', 'dev-2', 's3cret', 't2-d'),
         main::http();
redis_start('main');
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r,
                        IotAuthStream::mqtt_log(4));
--- request eval
["GET /r.txt", "GET /status"]
--- response_body_like eval
["\\ACONNACK 0 ROUNDTRIP ok
CONNACK 0 ROUNDTRIP ok
CONNACK 3
CONNACK 136
http: 200
dev-1 MISS 3 200
dev-1 HIT 3 200
dev-2 ERROR - 503
dev-2 ERROR - 503
\\z",
"\\Afrontend mqtt
hit 1
miss 1
error 2
match 1
entries 2
redis [1-9]\\d*
\\z"]
--- error_log
redis
--- no_error_log
[alert]
[crit]



=== TEST 3: a device id published on the revocation channel: its cached verdict goes, its old password is refused
--- init
main::populate();
my @r = (main::client('3.1.1', 'dev-1', 's3cret', 't3-a'));
redis_cli('main', 'HSET', 'iot:device:dev-1', 'hash', $::Other);
push @r, main::client('3.1.1', 'dev-1', 's3cret', 't3-b');
redis_cli('main', 'PUBLISH', 'iot:revoke', 'dev-1');
IotAuthTest::poll(5, sub { IotAuthTest::logged(qr/device "dev-1" revoked/) });
push @r, main::client('3.1.1', 'dev-1', 's3cret', 't3-c'),
         main::client('3.1.1', 'dev-1', 'n3w', 't3-d');
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r);
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["CONNACK 0 ROUNDTRIP ok
CONNACK 0 ROUNDTRIP ok
CONNACK 4
CONNACK 0 ROUNDTRIP ok
",
"frontend mqtt
hit 1
miss 2
denied 1
match 2
mismatch 1
entries 1
"]
--- error_log
iot_auth: device "dev-1" revoked
--- no_error_log
[error]
[alert]
[crit]

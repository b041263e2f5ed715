use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthRedis qw(free_port redis_start redis_stop redis_cli http_get);
use IotAuthTest qw(write_html poll bcrypt_hash);
use Time::HiRes qw(time sleep);

# Stores kept apart, with Redis: a verdict made by one store is never
# served by another, not even as STALE while Redis is down; a hash
# dearer than iot_auth_max_cost is refused; a revocation message drops
# verdicts but not a lockout.  One real redis-server on a free port,
# restarted by the blocks that stop it.

$ENV{TEST_NGINX_REDIS_PORT} = free_port();

our $Ha = bcrypt_hash('token-a');
our $Hb = bcrypt_hash('token-b');
our $Dear = '$2b$15$' . substr($Ha, 7);

sub populate {
    redis_cli('main', 'FLUSHALL');
    redis_cli('main', 'HSET', 'tenant:a:truck-1', 'hash', $Ha, 'perms', 7);
    redis_cli('main', 'HSET', 'tenant:b:truck-1', 'hash', $Hb, 'perms', 1);
    redis_cli('main', 'HSET', 'iot:device:dear', 'hash', $Dear);
    redis_cli('main', 'HSET', 'iot:device:guarded', 'hash', $Ha);
}

redis_start('main', port => $ENV{TEST_NGINX_REDIS_PORT});
populate();

# one request on a new connection: "status result perms"
sub ask {
    my ($uri, $dev, $token) = @_;

    my $res = http_get($uri, { 'X-Device-Id' => $dev,
                               'X-Device-Token' => $token });
    my $h = $res->{headers};

    return join ' ', $res->{status}, $h->{'x-result'} // '-',
                     $h->{'x-perms'} // '-';
}

# the steps' lines, with Redis stopped before the steps after 'stop'
sub steps {
    my @lines;

    for my $step (@_) {
        if (!ref $step) {
            redis_stop('main');
            sleep 0.2;
            next;
        }
        my ($label, @req) = @$step;
        push @lines, "$label: " . ask(@req);
    }

    redis_start('main');
    populate();

    write_html('result.txt', join '', map { "$_\n" } @lines);
}


master_on();
workers(2);
worker_connections(1024);
repeat_each(1);
no_shuffle();
no_long_string();
log_level('info');

my $tenants = <<'_EOC_';
    location = /tenant-a {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:a:;
        iot_auth_stale_if_error 30s;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        empty_gif;
    }

    location = /tenant-b {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:b:;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        empty_gif;
    }

    location = /tenant-b-stale {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_redis_key tenant:b:;
        iot_auth_stale_if_error 30s;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        empty_gif;
    }

    location = /file-a {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        empty_gif;
    }
_EOC_

add_block_preprocessor(sub {
    my ($block) = @_;

    $block->set_value(main_config => 'thread_pool iot_auth threads=2;')
        if !defined $block->main_config;
    $block->set_value(http_config => <<'_EOC_')
    iot_auth_zone zone=iot:1m;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=300ms
                   revoke_channel=iot:revoke;
_EOC_
        if !defined $block->http_config;
    $block->set_value(config => $tenants) if !defined $block->config;
    $block->set_value(user_files => ">>> creds\ntruck-1:$::Ha:3\n")
        if !defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: Redis down: another prefix's verdict is never served, not even as STALE
--- init
::steps(['a', '/tenant-a', 'truck-1', 'token-a'],
        'stop',
        ['b with a\'s token', '/tenant-b', 'truck-1', 'token-a'],
        ['b with a\'s token, stale allowed', '/tenant-b-stale', 'truck-1',
         'token-a'],
        ['a again', '/tenant-a', 'truck-1', 'token-a']);
--- request
GET /result.txt
--- response_body
a: 200 MISS 7
b with a's token: 503 ERROR -
b with a's token, stale allowed: 503 ERROR -
a again: 200 HIT 7



=== TEST 2: Redis down: a file store's verdict is never served by the Redis store
--- init
::steps(['file', '/file-a', 'truck-1', 'token-a'],
        'stop',
        ['redis with the file\'s token', '/tenant-b', 'truck-1', 'token-a'],
        ['stale allowed', '/tenant-b-stale', 'truck-1', 'token-a'],
        ['file again', '/file-a', 'truck-1', 'token-a']);
--- request
GET /result.txt
--- response_body
file: 200 MISS 3
redis with the file's token: 503 ERROR -
stale allowed: 503 ERROR -
file again: 200 HIT 3



=== TEST 3: a Redis hash dearer than iot_auth_max_cost is refused and logged
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- request
GET /p
--- more_headers
X-Device-Id: dear
X-Device-Token: token-a
--- error_code: 401
--- response_headers
X-Result: UNKNOWN
--- error_log
the hash of device "dear" has cost 15, above iot_auth_max_cost 14



=== TEST 4: a revocation message drops verdicts, not a lockout
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        iot_auth_lockout failures=3 window=1m duration=1m;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- init
my @lines = map { "guess: " . ::ask('/p', 'guarded', "wrong-$_") } 1 .. 3;
push @lines, "good token: " . ::ask('/p', 'guarded', 'token-a');

::poll(3, sub {
    (split /\n/, IotAuthRedis::redis_cli('main', 'PUBSUB', 'NUMSUB',
                                         'iot:revoke'))[1] eq '1'
}) or die "nobody subscribed to iot:revoke";
IotAuthRedis::redis_cli('main', 'PUBLISH', 'iot:revoke', 'guarded');
::poll(2, sub {
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or return 0;
    return scalar grep { /device "guarded" revoked/ } <$fh>;
}) or die "the revocation was not logged";

push @lines, "good token after the revocation: "
             . ::ask('/p', 'guarded', 'token-a');
IotAuthTest::write_html('result.txt', join '', map { "$_\n" } @lines);
--- request
GET /result.txt
--- response_body
guess: 401 DENIED -
guess: 401 DENIED -
guess: 401 DENIED -
good token: 429 LOCKED -
good token after the revocation: 429 LOCKED -



=== TEST 5: a token replaced in Redis is refused once the new one is verified
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials redis;
        add_header X-Result $iot_auth_result always;
        empty_gif;
    }
--- init
IotAuthRedis::redis_cli('main', 'HSET', 'iot:device:rotated', 'hash', $::Ha);
my @lines = ("old token: " . ::ask('/p', 'rotated', 'token-a'),
             "old token again: " . ::ask('/p', 'rotated', 'token-a'));
IotAuthRedis::redis_cli('main', 'HSET', 'iot:device:rotated', 'hash', $::Hb);
push @lines, "new token: " . ::ask('/p', 'rotated', 'token-b'),
             map { "old token after it: " . ::ask('/p', 'rotated', 'token-a') }
                 1 .. 3;
IotAuthRedis::redis_cli('main', 'DEL', 'iot:device:rotated');
IotAuthTest::write_html('result.txt', join '', map { "$_\n" } @lines);
--- request
GET /result.txt
--- response_body
old token: 200 MISS -
old token again: 200 HIT -
new token: 200 MISS -
old token after it: 401 DENIED -
old token after it: 401 NEGATIVE -
old token after it: 401 NEGATIVE -
--- no_error_log
[error]
[alert]

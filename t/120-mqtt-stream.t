use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest ();
use IotAuthMqtt qw(mosquitto_start);
use IotAuthStream qw(stream_block zone_summary);
use IotAuthCerts qw(make_ca make_cert);
use File::Temp qw(tempdir);

# The MQTT front end in front of a real mosquitto (anonymous clients
# allowed: only the module decides): paho clients of MQTT 3.1.1 and 5.0
# make a publish/subscribe round trip through nginx with the right
# password; wrong, unknown, missing and malformed credentials get a
# refusing CONNACK and the broker never sees the connection; malformed,
# oversized, late and non-MQTT first packets are closed without one;
# lockout and max_pending answer "server unavailable"; TLS is
# terminated by nginx; configuration errors.  Each block makes its MQTT
# connections once, in --- init, and shows what they got in html/r.txt;
# /status is the HTTP status page, where the stream zone "mqtt" is
# listed (reduced to its non-zero numbers by zone_summary).

our $Broker = mosquitto_start('broker');

# "s3cret" at cost 4 (dev-1, perms 5), and at cost 12 (slow-1, slow-2:
# about 180 ms each, long enough for a second CONNECT to arrive)
our $Fast = IotAuthTest::bcrypt_hash('s3cret', 4);
our $Slow = '$2y$12$VrY.mntx6iuaItsozOX7vu5ausDjfmVLEyVt3a2364JKtg239cx5C';

our $Creds = "dev-1:$Fast:5\nslow-1:$Slow\nslow-2:$Slow\n";

# a server certificate for the TLS block
our $Certs = tempdir('iot-mqtt-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
make_ca($Certs, 'ca', '/CN=iot test CA');
make_cert($Certs, 'server', subject => '/CN=localhost', server => 1,
          san => 'DNS:localhost,IP:127.0.0.1');
$ENV{TEST_NGINX_MQTT_CERTS} = $Certs;

log_level('info');
timeout(10);
repeat_each(1);
no_shuffle();
no_long_string();
check_accum_error_log();

add_block_preprocessor(sub {
    my $block = shift;

    my %o;
    for my $name (qw(mqtt_server mqtt_stream mqtt_listen
                     mqtt_credentials))
    {
        my $v = $block->can($name) ? $block->$name : undef;
        $o{ $name =~ s/^mqtt_//r } = $v if defined $v;
    }

    $block->set_value(main_config => stream_block($Broker, %o))
        unless defined $block->main_config;

    $block->set_value(user_files => ">>> creds\n$Creds")
        unless defined $block->user_files;

    $block->set_value(config => <<'_EOC_')
    location = /status {
        iot_auth_status;
    }
_EOC_
        unless defined $block->config;

    $block->set_value(response_body_filters => zone_summary('mqtt'))
        unless defined $block->response_body_filters;
});

run_tests();

__DATA__

=== TEST 1: paho 3.1.1 and 5.0 with the right password: a round trip through nginx, then the variables in the stream log
--- init
my @r = map {
    IotAuthMqtt::mqtt_client(port => $ENV{TEST_NGINX_MQTT_PORT},
                             version => $_, id => "t1-$_",
                             username => 'dev-1', password => 's3cret',
                             roundtrip => "t1/$_")
} '3.1.1', '5';
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r,
                        IotAuthStream::mqtt_log(2));
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["CONNACK 0 ROUNDTRIP ok
CONNACK 0 ROUNDTRIP ok
dev-1 MISS 5 200
dev-1 HIT 5 200
",
"frontend mqtt
hit 1
miss 1
match 1
entries 1
"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: wrong password and unknown device: CONNACK 4 (3.1.1) and 0x86 (5.0), and the broker sees nothing
--- init
my $port = $ENV{TEST_NGINX_MQTT_PORT};
my $seen = IotAuthStream::broker_connections('broker');
my @r = map {
    my ($v, $user, $pass) = @$_;
    IotAuthMqtt::mqtt_client(port => $port, version => $v,
                             id => "t2-refused-$v-$user",
                             username => $user, password => $pass)
} ['3.1.1', 'dev-1', 'wrong'], ['5', 'dev-1', 'wrong-again'],
  ['3.1.1', 'nobody', 's3cret'], ['5', 'nobody', 's3cret'];
push @r, 'broker: ' . (IotAuthStream::broker_connections('broker') - $seen)
         . ' connections, t2 ids seen: '
         . IotAuthStream::broker_saw('broker', 't2-refused');
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r,
                        IotAuthStream::mqtt_log(4));
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["CONNACK 4
CONNACK 134
CONNACK 4
CONNACK 134
broker: 0 connections, t2 ids seen: 0
dev-1 DENIED - 403
dev-1 DENIED - 403
nobody UNKNOWN - 403
nobody UNKNOWN - 403
",
"frontend mqtt
denied 2
unknown 2
mismatch 2
entries 2
"]
--- error_log
iot_auth: device "nobody" rejected: unknown device
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: no user name, no password, or malformed ones: CONNACK 4 / 0x86 without a bcrypt
--- init
my $port = $ENV{TEST_NGINX_MQTT_PORT};
my @r = map {
    my $r = IotAuthMqtt::mqtt_exchange($port,
                IotAuthMqtt::mqtt_connect_packet(client_id => 't3', @$_),
                wait_close => 1);
    ($r->{connack} // 'none') . ($r->{closed} ? ' closed' : '')
} [ username => 'dev-1' ],
  [ ],
  [ level => 5, password => 's3cret' ],
  [ username => 'dev 1', password => 's3cret' ],
  [ username => 'dev-1', password => 'x' x 73 ],
  [ username => 'dev-1', password => "s3cret\x01" ];
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r,
                        IotAuthStream::mqtt_log(6));
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["4 closed
4 closed
134 closed
4 closed
4 closed
4 closed
- DENIED - 403
- DENIED - 403
- DENIED - 403
- DENIED - 403
dev-1 DENIED - 403
dev-1 DENIED - 403
",
"frontend mqtt
denied 6
"]
--- error_log
iot_auth: CONNECT without a user name or a password
iot_auth: malformed device id of 5 bytes
iot_auth: device "dev-1" sent a malformed password of 73 bytes
iot_auth: device "dev-1" sent a malformed password of 7 bytes
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: iot_auth_mqtt_device client_id: the client id is the device, the user name is not looked at
--- mqtt_server
iot_auth_mqtt_device client_id;
--- init
my $port = $ENV{TEST_NGINX_MQTT_PORT};
my @r = map {
    my ($v, $id, $user) = @$_;
    IotAuthMqtt::mqtt_client(port => $port, version => $v, id => $id,
                             username => $user, password => 's3cret',
                             roundtrip => "t4/$v")
} ['3.1.1', 'dev-1', 'anyone'], ['5', 'dev-1', 'someone'],
  ['3.1.1', 't4-other', 'dev-1'];
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r,
                        IotAuthStream::mqtt_log(3));
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["CONNACK 0 ROUNDTRIP ok
CONNACK 0 ROUNDTRIP ok
CONNACK 4
dev-1 MISS 5 200
dev-1 HIT 5 200
t4-other UNKNOWN - 403
",
"frontend mqtt
hit 1
miss 1
unknown 1
match 1
entries 2
"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: a CONNECT sent a byte at a time is read whole, accepted or refused
--- init
my $port = $ENV{TEST_NGINX_MQTT_PORT};
my @r = map {
    my $p = IotAuthMqtt::mqtt_connect_packet(@$_);
    my $r = IotAuthMqtt::mqtt_exchange($port, [ unpack '(a)*', $p ],
                                       delay => 0.005, timeout => 5);
    length($p) . ' bytes: ' . ($r->{connack} // 'none')
} [ client_id => 't5-a', username => 'dev-1', password => 's3cret' ],
  [ level => 5, client_id => 't5-b', username => 'dev-1',
    password => 's3cret', properties => [ 0x11 => 3600, 0x21 => 10,
                                          0x26 => [ 'site', 'lab' ] ],
    will => { topic => 't5/will', payload => 'gone', qos => 1,
              properties => [ 0x18 => 5 ] } ],
  [ client_id => 't5-c', username => 'dev-1', password => 'wrong' ];
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r);
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["33 bytes: 0
75 bytes: 0
32 bytes: 4
",
"frontend mqtt
hit 1
miss 1
denied 1
match 1
mismatch 1
entries 1
"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: malformed, oversized or not MQTT: closed without a CONNACK, the broker sees nothing
--- mqtt_server
iot_auth_mqtt_max_connect 256;
--- init
my $port = $ENV{TEST_NGINX_MQTT_PORT};
my $seen = IotAuthStream::broker_connections('broker');
my @r = map {
    my $r = IotAuthMqtt::mqtt_exchange($port, $_, wait_close => 1);
    ($r->{closed} ? 'closed' : 'open') . ' after ' . length($r->{bytes})
    . ' bytes'
} IotAuthMqtt::mqtt_connect_packet(client_id => 't6', flags => 0x03),
  "\xc0\x00",
  "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
  "\x10\x0c\x00\x06MQIsdp\x03\x02\x00\x3c",
  IotAuthMqtt::mqtt_connect_packet(client_id => 't6', username => 'u' x 300,
                                   password => 's3cret');
push @r, 'broker: ' . (IotAuthStream::broker_connections('broker') - $seen)
         . ' connections';
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r);
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["closed after 0 bytes
closed after 0 bytes
closed after 0 bytes
closed after 0 bytes
closed after 0 bytes
broker: 0 connections
",
"frontend mqtt
"]
--- error_log
sent no valid MQTT CONNECT: reserved connect flag set
sent no valid MQTT CONNECT: not a CONNECT packet
sent no valid MQTT CONNECT: MQTT 3.1 (MQIsdp) not supported
sent no valid MQTT CONNECT: packet too large
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: a CONNECT not complete within preread_timeout: closed without a CONNACK
--- mqtt_server
preread_timeout 500ms;
--- init
my $p = IotAuthMqtt::mqtt_connect_packet(client_id => 't7', username => 'dev-1',
                                         password => 's3cret');
my $t0 = Time::HiRes::time();
my $r = IotAuthMqtt::mqtt_exchange($ENV{TEST_NGINX_MQTT_PORT},
                                   substr($p, 0, 20), wait_close => 1,
                                   timeout => 5);
my $t = Time::HiRes::time() - $t0;
IotAuthTest::write_html('r.txt',
    ($r->{closed} ? 'closed' : 'open') . ' after ' . length($r->{bytes})
    . ' bytes, ' . ($t >= 0.45 && $t < 3 ? 'at the timeout' : "after ${t}s")
    . "\n");
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["closed after 0 bytes, at the timeout
",
"frontend mqtt
"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 8: lockout: after two failures even the right password gets CONNACK 0x88 / 3
--- mqtt_server
iot_auth_lockout failures=2 window=60s duration=60s;
--- init
my $port = $ENV{TEST_NGINX_MQTT_PORT};
my @r = map {
    my ($v, $pass) = @$_;
    IotAuthMqtt::mqtt_client(port => $port, version => $v, id => "t8-$v",
                             username => 'dev-1', password => $pass)
} ['5', 'wrong-1'], ['5', 'wrong-2'], ['5', 's3cret'], ['3.1.1', 's3cret'];
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r,
                        IotAuthStream::mqtt_log(4));
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["CONNACK 134
CONNACK 134
CONNACK 136
CONNACK 3
dev-1 DENIED - 403
dev-1 DENIED - 403
dev-1 LOCKED - 503
dev-1 LOCKED - 503
",
"frontend mqtt
denied 2
locked 2
mismatch 2
entries 1
"]
--- error_log
iot_auth: device "dev-1" rejected: device locked out
--- no_error_log
[error]
[alert]
[crit]



=== TEST 9: iot_auth_max_pending 1: a second cold device while a bcrypt runs gets CONNACK 3
--- mqtt_server
iot_auth_max_pending 1;
--- init
my @r = IotAuthStream::mqtt_herd($ENV{TEST_NGINX_MQTT_PORT}, [
    map { IotAuthMqtt::mqtt_connect_packet(client_id => "t9-$_",
                                           username => $_,
                                           password => 's3cret') }
        'slow-1', 'slow-2' ]);
IotAuthTest::write_html('r.txt', join(' ', sort @r) . "\n");
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["0 3
",
"frontend mqtt
miss 1
busy 1
match 1
entries 2
"]
--- error_log
rejected: too many verifications pending
--- no_error_log
[error]
[alert]
[crit]



=== TEST 10: a client that leaves while its CONNECT is verified: the broker never sees it
--- init
my $seen = IotAuthStream::broker_connections('broker');
my $r = IotAuthMqtt::mqtt_exchange($ENV{TEST_NGINX_MQTT_PORT},
            IotAuthMqtt::mqtt_connect_packet(client_id => 't10',
                                             username => 'slow-1',
                                             password => 's3cret'),
            timeout => 0.05);
IotAuthTest::poll(5, sub { IotAuthTest::logged(qr/connection has gone/) });
IotAuthTest::write_html('r.txt', join '', map { "$_\n" }
    'CONNACK ' . ($r->{connack} // 'none'),
    'broker: ' . (IotAuthStream::broker_connections('broker') - $seen)
    . ' connections',
    IotAuthStream::mqtt_log(1));
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["CONNACK none
broker: 0 connections
slow-1 MISS - 200
",
"frontend mqtt
miss 1
match 1
entries 1
"]
--- error_log
iot_auth: device "slow-1" verified, but its connection has gone
--- no_error_log
[error]
[alert]
[crit]



=== TEST 11: TLS terminated by nginx (listen ... ssl): mosquitto_pub, then mosquitto_sub gets the message
--- mqtt_listen: ssl
--- mqtt_server
ssl_certificate $TEST_NGINX_MQTT_CERTS/server.crt;
ssl_certificate_key $TEST_NGINX_MQTT_CERTS/server.key;
--- init
my @tls = ('-h', '127.0.0.1', '-p', $ENV{TEST_NGINX_MQTT_PORT},
           '--cafile', "$ENV{TEST_NGINX_MQTT_CERTS}/ca.crt");
# a command's output, 10 s at most
my $run = sub { open(my $fh, '-|', 'timeout', 10, @_) or die "$_[0]: $!";
                my $out = join '', <$fh>; close $fh; return $out };
# a retained message: the subscriber, which connects after, gets it
$run->('mosquitto_pub', @tls, '-i', 't11-pub', '-u', 'dev-1', '-P', 's3cret',
        '-t', 't11/tls', '-m', 'over TLS', '-q', '1', '-r');
my $pub = $? >> 8;
my $got = $run->('mosquitto_sub', @tls, '-i', 't11-sub', '-u', 'dev-1',
                  '-P', 's3cret', '-t', 't11/tls', '-C', '1', '-W', '5');
my $bad = $run->('sh', '-c', 'exec "$@" 2>&1', 'sh', 'mosquitto_pub', @tls,
                  '-i', 't11-bad', '-u', 'dev-1', '-P', 'wrong',
                  '-t', 't11/tls', '-m', 'x');
$bad =~ s/\s+$//;
IotAuthTest::write_html('r.txt', "pub exit $pub\nsub got: $got$bad\n");
--- request eval
["GET /r.txt", "GET /status"]
--- response_body_like eval
["\\Apub exit 0\nsub got: over TLS\n.*bad user name or password.*\n\\z",
"\\Afrontend mqtt\nhit 1\nmiss 1\ndenied 1\nmatch 1\nmismatch 1\nentries 1\n\\z"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 12: iot_auth_mqtt_max_connect larger than preread_buffer_size
--- mqtt_server
preread_buffer_size 1k;
iot_auth_mqtt_max_connect 2k;
--- must_die
--- error_log eval
qr/"iot_auth_mqtt_max_connect" 2048 is larger than "preread_buffer_size" 1024 in the server of \S+nginx.conf:\d+$/



=== TEST 13: iot_auth_mqtt_device with an unknown value
--- mqtt_server
iot_auth_mqtt_device password;
--- must_die
--- error_log
invalid value "password"



=== TEST 14: iot_auth in stream{} without iot_auth_credentials
--- mqtt_credentials: none
--- must_die
--- error_log
"iot_auth" requires "iot_auth_credentials"



=== TEST 15: iot_auth naming a zone that stream{} does not define
--- mqtt_stream
server {
    listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    iot_auth zone=elsewhere;
    iot_auth_credentials file=../html/creds;
    proxy_pass 127.0.0.1:1;
}
--- must_die
--- error_log
iot_auth zone "elsewhere" is not defined by "iot_auth_zone"



=== TEST 16: iot_auth_zone inside a server
--- mqtt_server
iot_auth_zone zone=inner:1m;
--- must_die
--- error_log
"iot_auth_zone" directive is not allowed here

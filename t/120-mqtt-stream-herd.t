use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest ();
use IotAuthMqtt qw(mosquitto_start);
use IotAuthStream qw(stream_block zone_summary);
use POSIX ();

# Reconnect storms through the MQTT front end, two worker processes, a
# real mosquitto behind: many CONNECTs with one cold device's
# credentials run one bcrypt, and every one reaches the broker.  Then
# the HTTP module and the stream module at work in one nginx at the
# same time: each .so has its own engine (config links them with a
# version script), each zone counts its own.  And a reload keeps the
# stream zone and its verdicts.

our $Broker = mosquitto_start('broker');

# "s3cret" at cost 12 (about 180 ms): the storm arrives while the one
# bcrypt runs
our $Slow = '$2y$12$VrY.mntx6iuaItsozOX7vu5ausDjfmVLEyVt3a2364JKtg239cx5C';

our $Creds = join '', map { "$_:$Slow\n" } qw(storm-1 storm-2 http-1);

# under valgrind everything is some 50 times slower
our $VG = $ENV{TEST_NGINX_USE_VALGRIND};
our $STORM = $VG ? 20 : 200;
our $HALF = $STORM / 2;

master_on();
workers(2);
worker_connections(1024);
log_level('info');
timeout($VG ? 60 : 20);
repeat_each(1);
no_shuffle();
no_long_string();
check_accum_error_log();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(main_config => stream_block($Broker))
        unless defined $block->main_config;

    $block->set_value(user_files => ">>> creds\n$Creds")
        unless defined $block->user_files;

    $block->set_value(config => <<'_EOC_')
    location = /status {
        iot_auth_status;
    }
_EOC_
        unless defined $block->config;
});

# $n CONNECTs of device $dev, each with its own client id, all at once;
# "code xN" for each answer seen
sub storm {
    my ($dev, $n, $tag) = @_;

    my @r = IotAuthStream::mqtt_herd($ENV{TEST_NGINX_MQTT_PORT}, [
        map { IotAuthMqtt::mqtt_connect_packet(client_id => "$tag-$_",
                                               username => $dev,
                                               password => 's3cret') }
            1 .. $n ], timeout => $VG ? 120 : 30);

    my %n;
    $n{$_}++ for @r;
    return join ' ', map { "$_ x$n{$_}" } sort keys %n;
}

# the requests a zone counted, all results together
sub requests {
    my ($zone) = @_;

    my $page = IotAuthTest::http_get('/status')->{body};
    my $n = 0;
    $n += $1 while $page =~ /^iot_auth_requests_total\{zone="$zone"[^}]*\} (\d+)$/mg;
    return $n;
}

run_tests();

__DATA__

=== TEST 1: a storm of CONNECTs for one cold device: one bcrypt, every one reaches the broker
--- http_config
--- init
my $seen = IotAuthStream::broker_connections('broker');
my $r = main::storm('storm-1', $::STORM, 't1');
IotAuthTest::write_html('r.txt',
    "$r\nrequests " . main::requests('mqtt') . "\nbroker: "
    . (IotAuthStream::broker_connections('broker') - $seen)
    . " connections\n");
--- request eval
["GET /r.txt", "GET /status"]
--- response_body_like eval
["\\A0 x$::STORM\nrequests $::STORM\nbroker: $::STORM connections\n\\z",
 "\\Afrontend mqtt\n(?:hit \\d+\n)?miss 1\n(?:wait \\d+\n)?match 1\nentries 1\n\\z"]
--- response_body_filters eval
IotAuthStream::zone_summary('mqtt')
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: HTTP requests and MQTT CONNECTs at the same time, each module with its own zone and engine
--- http_config
    iot_auth_zone zone=iot:1m;
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        empty_gif;
    }

    location = /status {
        iot_auth_status;
    }
--- init
my $file = "$ENV{TEST_NGINX_SERVER_ROOT}/html/storm.txt";
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    my $r = main::storm('storm-2', $::HALF, 't2');
    open my $fh, '>', $file or POSIX::_exit(1);
    print $fh "mqtt: $r\n";
    close $fh;
    POSIX::_exit(0);
}
my @r = IotAuthTest::herd([ map { IotAuthTest::p_req('http-1', 's3cret') }
                                1 .. $::HALF ], timeout => 30);
waitpid $pid, 0;
open my $fh, '<', $file or die "$file: $!";
IotAuthTest::write_html('r.txt', "http: " . IotAuthTest::tally(@r) . <$fh>
    . "requests: http " . main::requests('iot') . ", mqtt "
    . main::requests('mqtt') . "\n");
--- request eval
["GET /r.txt", "GET /status"]
--- response_body_like eval
["\\Ahttp: 200:$::HALF\nmqtt: 0 x$::HALF\nrequests: http $::HALF, mqtt $::HALF\n\\z",
qr/^iot_auth_bcrypt_total\{zone="iot",outcome="match"\} 1\n.*^iot_auth_bcrypt_total\{zone="mqtt",frontend="mqtt",outcome="match"\} 1$/ms]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: a reload keeps the stream zone: a device verified before it is a HIT after it
--- http_config
--- init
my $connect = sub {
    my ($id) = @_;
    my ($r) = IotAuthStream::mqtt_herd($ENV{TEST_NGINX_MQTT_PORT},
        [ IotAuthMqtt::mqtt_connect_packet(client_id => $id,
                                           username => 'storm-1',
                                           password => 's3cret') ]);
    return "CONNACK $r";
};
my @r = ($connect->('t3-a'));
my %old = map { $_ => 1 } IotAuthTest::worker_pids();
kill 'HUP', IotAuthTest::master_pid();
push @r, IotAuthTest::poll(10, sub {
    my @w = IotAuthTest::worker_pids();
    @w == 2 && !grep { $old{$_} } @w;
}) ? 'reloaded' : 'not reloaded';
push @r, $connect->('t3-b');
IotAuthTest::write_html('r.txt', join '', map { "$_\n" } @r);
--- request eval
["GET /r.txt", "GET /status"]
--- response_body eval
["CONNACK 0\nreloaded\nCONNACK 0\n",
"frontend mqtt\nhit 1\nmiss 1\nmatch 1\nentries 1\n"]
--- response_body_filters eval
IotAuthStream::zone_summary('mqtt')
--- no_error_log
[error]
[alert]
[crit]

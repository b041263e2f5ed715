#!/usr/bin/perl

# The MQTT test kit (t/lib/IotAuthMqtt.pm, t/lib/mqtt-client) against a
# real mosquitto, no nginx yet: paho clients connect and make a round
# trip; the hand-built CONNECTs are accepted by the broker and parsed by
# the module's parser into the fields they were built with; the
# malformed ones are refused by both; real clients' CONNECTs (paho,
# mosquitto_pub) parse, and real clients read the module's CONNACKs.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use IotAuthMqtt qw(mosquitto_start mosquitto_stop fake_broker_start
                   fake_broker_received mqtt_client mqtt_connect_packet
                   mqtt_exchange mqtt_parse mqtt_connack);

my $port = mosquitto_start('broker');

# paho, both protocol levels

for my $v ('3.1.1', '5') {
    is(mqtt_client(port => $port, version => $v, id => "kit-paho-$v",
                   username => 'dev-1', password => 'tok-1',
                   roundtrip => "kit/roundtrip/$v"),
       'CONNACK 0 ROUNDTRIP ok', "paho $v: accepted, round trip");

    is(mqtt_client(port => $port, version => $v, id => "kit-will-$v",
                   will => 'kit/will', session_expiry => 30),
       'CONNACK 0', "paho $v with a will: accepted");
}

# hand-built CONNECTs that mosquitto accepts

my %every_connect_property = (properties => [
    0x11 => 3600, 0x21 => 10, 0x27 => 65536, 0x22 => 5, 0x19 => 1,
    0x17 => 0, 0x26 => ['site', 'lab'], 0x26 => ['site', 'roof']]);

my %every_will_property = (properties => [
    0x18 => 5, 0x01 => 1, 0x02 => 60, 0x03 => 'text/plain',
    0x08 => 'kit/reply', 0x09 => "\x01\x02", 0x26 => ['k', 'v']]);

my @good = (
    [ '3.1.1, empty client id' ],
    [ '3.1.1, user name and binary password', client_id => 'kit-1',
      username => 'dev-1', password => "tok\0\xff" ],
    [ '3.1.1, will QoS 1 retained', client_id => 'kit-2',
      username => 'dev-2', password => 'tok-2',
      will => { topic => 'kit/will', payload => 'gone', qos => 1,
                retain => 1 } ],
    [ '3.1.1, UTF-8 client id',
      client_id => "kit-\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" ],
    [ '5.0, user name and password', level => 5, client_id => 'kit-3',
      username => 'dev-3', password => 'tok-3' ],
    [ '5.0, password without a user name', level => 5,
      client_id => 'kit-4', password => 'tok-4' ],
    [ '5.0, every CONNECT property but authentication', level => 5,
      client_id => 'kit-5', username => 'dev-5', %every_connect_property ],
    [ '5.0, will QoS 2 with every will property', level => 5,
      client_id => 'kit-6',
      will => { topic => 'kit/will', payload => 'gone', qos => 2,
                %every_will_property } ],
    [ '5.0, long user name and password', level => 5, client_id => 'kit-7',
      username => 'u' x 1000, password => 'p' x 20000 ],
);

my @packets = map { my ($name, %o) = @$_; mqtt_connect_packet(%o) } @good;
my @parsed = mqtt_parse(@packets);

for my $i (0 .. $#good) {
    my ($name, %o) = @{ $good[$i] };
    my $p = $packets[$i];

    my $r = mqtt_exchange($port, $p);
    is($r->{connack}, 0, "$name: mosquitto accepts it");

    # the fixed and variable headers one byte at a time, then the rest
    $r = mqtt_exchange($port, [ unpack('(a)16 a*', $p) ], delay => 0.01);
    is($r->{connack}, 0, "$name: mosquitto accepts it in 17 segments");

    is($parsed[$i], expected($p, %o), "$name: the parser reads it");
}

# hand-built CONNECTs that the parser refuses and mosquitto too

my @bad = (
    [ 'password without a user name', 'password without a user name',
      client_id => 'kit-b1', password => 'tok' ],
    [ 'reserved connect flag set', 'reserved connect flag set',
      flags => 0x03 ],
    [ 'will QoS 3', 'will QoS 3', flags => 0x1e, will => { topic => 't' } ],
    [ 'will QoS without a will', 'will QoS or retain without a will',
      flags => 0x0a ],
    [ 'will topic with a wildcard', 'wildcard in a topic name',
      will => { topic => 'kit/#' } ],
    [ 'empty will topic', 'empty topic name', will => { topic => '' } ],
    [ 'U+0000 in the client id', 'client id is not valid UTF-8',
      client_id => "kit\0" ],
    [ 'overlong UTF-8 in the client id', 'client id is not valid UTF-8',
      client_id => "kit\xc0\x80" ],
    [ 'surrogate in the user name', 'user name is not valid UTF-8',
      username => "dev\xed\xa0\x80" ],
    [ 'bytes after the last field', 'bytes after the last field',
      client_id => 'kit-b2', tail => "\0" ],
    [ 'protocol level 6', 'unsupported protocol level', level => 6 ],
    [ '5.0 duplicate property', 'duplicate property', level => 5,
      properties => [ 0x11 => 1, 0x11 => 2 ] ],
    [ '5.0 receive maximum 0', 'property value 0', level => 5,
      properties => [ 0x21 => 0 ] ],
    [ '5.0 maximum packet size 0', 'property value 0', level => 5,
      properties => [ 0x27 => 0 ] ],
    [ '5.0 request problem information 2', 'property value neither 0 nor 1',
      level => 5, properties => [ 0x17 => 2 ] ],
    [ '5.0 will property in CONNECT', 'property not allowed in CONNECT',
      level => 5, properties => [ 0x01 => 1 ] ],
    [ '5.0 CONNECT property in a will', 'property not allowed in a will',
      level => 5, will => { topic => 't', properties => [ 0x11 => 1 ] } ],
    [ '5.0 user property not UTF-8', 'property is not valid UTF-8',
      level => 5, properties => [ 0x26 => [ "\xff", 'v' ] ] ],
);

@packets = map { my ($n, $why, %o) = @$_; mqtt_connect_packet(%o) } @bad;
@parsed = mqtt_parse(@packets);

for my $i (0 .. $#bad) {
    my ($name, $why) = @{ $bad[$i] };

    is($parsed[$i], "NGX_ERROR \"$why\"", "$name: the parser refuses it");

    my $r = mqtt_exchange($port, $packets[$i]);
    ok(!defined $r->{connack} || $r->{connack} != 0,
       "$name: mosquitto refuses it ("
       . (defined $r->{connack} ? "CONNACK $r->{connack}" : 'closed') . ')');
}

# real clients' CONNECTs, taken by a broker that refuses them with the
# module's CONNACKs: the parser reads them, and the clients read the
# CONNACKs

my %codes = ('3.1.1' => [4, 3], '5' => [0x86, 0x88]);

for my $v ('3.1.1', '5') {
    my @connacks = mqtt_connack($v eq '5' ? 5 : 4);

    for my $k (0, 1) {
        my $name = "fake-$v-$k";
        my $fake = fake_broker_start($name, $connacks[$k]);

        is(mqtt_client(port => $fake, version => $v, id => "kit-$k",
                       username => 'dev-9', password => "tok-$k"),
           "CONNACK $codes{$v}[$k]",
           "paho $v reads the module's CONNACK $codes{$v}[$k]");

        my ($got) = mqtt_parse(fake_broker_received($name));
        my $level = $v eq '5' ? 5 : 4;
        my $fields = fields("kit-$k", 'dev-9', "tok-$k");

        like($got, qr/^NGX_OK .* level=$level .* \Q$fields\E$/,
             "paho $v: the parser reads its CONNECT");

        mosquitto_stop($name);
    }
}

my $fake = fake_broker_start('capture', (mqtt_connack(4))[0]);

mqtt_client(port => $fake, version => '3.1', id => 'kit-31');

system('mosquitto_pub', '--quiet', '-h', '127.0.0.1', '-p', $fake,
       '-V', $_, '-i', "kit-pub-$_", '-u', 'dev-p', '-P', 'tok-p',
       '-t', 'kit/pub', '-m', 'x', '--will-topic', 'kit/will',
       '--will-payload', 'gone', '--will-qos', '1',
       $_ eq 'mqttv5' ? ('-D', 'connect', 'session-expiry-interval', '60',
                         '-D', 'connect', 'user-property', 'k', 'v',
                         '-D', 'will', 'content-type', 'text/plain')
                      : ())
    for 'mqttv311', 'mqttv5';

@parsed = mqtt_parse(fake_broker_received('capture'));

is(scalar @parsed, 3, 'three CONNECTs captured');
is($parsed[0], 'NGX_ERROR "MQTT 3.1 (MQIsdp) not supported"',
   'paho 3.1: the parser refuses MQTT 3.1');

for my $i (1, 2) {
    my $level = $i == 1 ? 4 : 5;
    my $id = $i == 1 ? 'kit-pub-mqttv311' : 'kit-pub-mqttv5';

    my $fields = fields($id, 'dev-p', 'tok-p');

    like($parsed[$i], qr/^NGX_OK .* level=$level flags=0xce .* \Q$fields\E$/,
         "mosquitto_pub level $level with a will: the parser reads it");
}

# stopped means stopped

mosquitto_stop('broker');
like(mqtt_client(port => $port, timeout => 2), qr/^cannot connect/,
     'mosquitto stopped');

done_testing();


# the parser's line for a CONNECT built with these options

sub expected {
    my ($p, %o) = @_;

    my $header = 2;
    $header++ while ord(substr($p, $header - 1, 1)) & 0x80;

    return sprintf('NGX_OK size=%d level=%d flags=0x%02x keepalive=60 %s',
                   length $p, $o{level} // 4,
                   ord(substr($p, $header + 7, 1)),
                   fields($o{client_id} // '', $o{username}, $o{password}));
}

# the end of the parser's line: client id, user name, password

sub fields {
    my @hex = map { defined $_ ? unpack('H*', $_) : '-' } @_;
    return "client_id=$hex[0] username=$hex[1] password=$hex[2]";
}

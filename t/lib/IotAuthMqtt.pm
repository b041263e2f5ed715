package IotAuthMqtt;

# The broker side and the client side of the MQTT tests.
#
# Broker: a real mosquitto (Debian's /usr/sbin/mosquitto) started by the
# test file on a free 127.0.0.1 port with a generated configuration
# (anonymous clients allowed, no persistence), stopped by pid on demand
# and always when the test file ends.  Its log is mosquitto.log in its
# own temporary directory; IOT_MQTT_KEEP=1 keeps the directory.
#
# A fake broker answers every CONNECT with the same bytes and keeps what
# it received, for tests that look at the exact bytes on either side.
#
# Clients: t/lib/mqtt-client (paho-mqtt, MQTT 3.1.1 and 5.0) for real
# client behaviour; mqtt_connect_packet() to build a CONNECT byte by
# byte (also malformed ones) and mqtt_exchange() to send bytes, in
# segments if asked, and see what comes back; mqtt_parse() and
# mqtt_connack() to run the module's own CONNECT parser and CONNACK
# builder (through the unit-check program that make test builds).

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

use IotAuthRedis qw(free_port);
use IotAuthTest qw(spawn wait_up reap fork_server);

our @EXPORT_OK = qw(mosquitto_start mosquitto_stop mosquitto_log
                    fake_broker_start fake_broker_received
                    mqtt_client mqtt_connect_packet mqtt_exchange
                    mqtt_connack_code mqtt_parse mqtt_connack);

my $Lib = File::Spec->rel2abs(dirname(__FILE__));
my $Root = dirname(dirname($Lib));

my %Brokers;    # name => { pid, port, dir }
my $Unit = "$Root/build/unit/mqtt_connect";

# Starts mosquitto NAME on port => N (default: a free port) and waits
# until it answers a CONNECT with a CONNACK (5 s at most).  Returns the
# port.

sub mosquitto_start {
    my ($name, %o) = @_;

    die "mosquitto $name is already running"
        if $Brokers{$name} && $Brokers{$name}{pid};

    my $port = $o{port} // free_port();
    my $dir = tempdir('iot-mqtt-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{IOT_MQTT_KEEP});

    # mosquitto started as root runs as user mosquitto: it logs to stderr,
    # which this process opens for it
    open(my $fh, '>', "$dir/mosquitto.conf") or die "$dir: $!";
    print $fh "listener $port 127.0.0.1\n",
              "allow_anonymous true\n",
              "persistence false\n",
              "log_dest stderr\n",
              "log_type all\n",
              "log_timestamp_format %H:%M:%S\n";
    close $fh;

    my $pid = spawn("$dir/mosquitto.log",
                    '/usr/sbin/mosquitto', '-c', "$dir/mosquitto.conf");

    $Brokers{$name} = { pid => $pid, port => $port, dir => $dir };

    my $up = sub {
        my $r = mqtt_exchange($port, mqtt_connect_packet(), timeout => 1);
        defined $r->{connack};
    };
    return $port if wait_up($pid, 5, $up,
                            "mosquitto $name exited, see $dir/mosquitto.log");

    mosquitto_stop($name);
    die "mosquitto $name does not answer on port $port";
}

# Stops mosquitto NAME (SIGTERM, SIGKILL after 5 s) and reaps it.

sub mosquitto_stop {
    my ($name) = @_;

    my $srv = $Brokers{$name} or return;
    my $pid = delete $srv->{pid} or return;

    reap($pid, 'TERM', 5);
}

# The log of mosquitto NAME so far.

sub mosquitto_log {
    my ($name) = @_;

    my $srv = $Brokers{$name} or die "no mosquitto $name";
    open(my $fh, '<', "$srv->{dir}/mosquitto.log") or return '';
    local $/;
    return scalar <$fh>;
}

# A fake broker NAME on a free port: it reads each connection's first
# packet (a complete CONNECT by its remaining length, or whatever came
# within 3 s), appends it to its record, answers $reply and closes.
# Stopped like mosquitto.  Returns the port.

sub fake_broker_start {
    my ($name, $reply) = @_;

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => 0, Listen => 64,
                                       Proto => 'tcp')
        or die "fake broker: $!";
    my $port = $listen->sockport;
    my $dir = tempdir('iot-mqtt-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{IOT_MQTT_KEEP});

    my $pid = fork_server($listen,
                          sub { fake_broker_loop($_[0], $dir, $reply) });
    $Brokers{$name} = { pid => $pid, port => $port, dir => $dir };

    return $port;
}

sub fake_broker_loop {
    my ($listen, $dir, $reply) = @_;

    local $SIG{PIPE} = 'IGNORE';

    while (my $c = $listen->accept) {
        my $sel = IO::Select->new($c);
        my ($buf, $deadline) = ('', time + 3);

        while (time < $deadline) {
            my ($size) = packet_size($buf);
            last if defined $size && length($buf) >= $size;
            next unless $sel->can_read(0.02);
            last unless sysread($c, $buf, 65536, length $buf);
        }

        open(my $fh, '>>', "$dir/received") or POSIX::_exit(1);
        print $fh unpack('H*', $buf), "\n";
        close $fh;

        syswrite($c, $reply);
        close $c;
    }
}

# the packets fake broker NAME has received so far, as bytes

sub fake_broker_received {
    my ($name) = @_;

    my $srv = $Brokers{$name} or die "no broker $name";
    open(my $fh, '<', "$srv->{dir}/received") or return ();
    return map { chomp; pack('H*', $_) } <$fh>;
}

# the size of the packet that $buf starts with and the size of its fixed
# header, once that is complete (an empty list before)

sub packet_size {
    my ($buf) = @_;

    my ($len, $mul) = (0, 1);

    for my $i (1 .. 4) {
        return () if length($buf) <= $i;
        my $b = ord(substr($buf, $i, 1));
        $len += ($b & 0x7f) * $mul;
        $mul *= 128;
        return (1 + $i + $len, 1 + $i) unless $b & 0x80;
    }

    return (5 + $len, 5);
}

# Runs t/lib/mqtt-client: port => N (required), host (127.0.0.1),
# version ('3.1.1', '5' or '3.1'), id, username, password, will (a
# topic), session_expiry, roundtrip (a topic), timeout (seconds).
# Returns the line it printed ("CONNACK 0", "CONNACK 0 ROUNDTRIP ok",
# "closed without CONNACK", ...).

sub mqtt_client {
    my (%o) = @_;

    my @args;
    for my $k (qw(version id username password will session_expiry
                  roundtrip timeout))
    {
        push @args, '--' . ($k =~ s/_/-/gr), $o{$k} if defined $o{$k};
    }

    open(my $fh, '-|', "$Lib/mqtt-client", @args, $o{host} // '127.0.0.1',
         $o{port})
        or die "mqtt-client: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;

    chomp $out;
    return $out;
}

# the value types of the MQTT 5.0 properties of CONNECT and its will

my %Prop = (0x01 => 'C', 0x02 => 'N', 0x03 => 'string', 0x08 => 'string',
            0x09 => 'string', 0x11 => 'N', 0x15 => 'string',
            0x16 => 'string', 0x17 => 'C', 0x18 => 'N', 0x19 => 'C',
            0x21 => 'n', 0x22 => 'n', 0x26 => 'pair', 0x27 => 'N');

sub varint {
    my ($n) = @_;

    my $s = '';
    do {
        my $b = $n & 0x7f;
        $n >>= 7;
        $s .= chr($b | ($n ? 0x80 : 0));
    } while ($n);

    return $s;
}

sub mqtt_string {
    my ($s) = @_;
    return pack('n', length $s) . $s;
}

# [ id => value, ... ] -> property length and properties; a value is an
# integer, a string (also for binary data) or [ name, value ]

sub properties {
    my ($list) = @_;

    my $s = '';
    my @l = @{ $list || [] };

    while (my ($id, $v) = splice(@l, 0, 2)) {
        my $type = $Prop{$id} // die sprintf("property 0x%02x unknown", $id);
        $s .= chr($id)
              . ($type eq 'string' ? mqtt_string($v)
                 : $type eq 'pair' ? mqtt_string($v->[0])
                                     . mqtt_string($v->[1])
                 : pack($type, $v));
    }

    return varint(length $s) . $s;
}

# A CONNECT packet, as bytes.  level (4, the default, or 5), client_id
# (''), username and password (absent when undef), clean (1), keepalive
# (60), properties (5.0, see properties() above), will => { topic,
# payload, qos, retain, properties }.  To break the rules: flags => the
# connect flags byte as sent, tail => bytes added after the last field
# (inside the remaining length).

sub mqtt_connect_packet {
    my (%o) = @_;

    my $level = $o{level} // 4;
    my $will = $o{will};

    my $flags = ($o{clean} // 1) ? 0x02 : 0;
    $flags |= 0x04 | (($will->{qos} // 0) << 3) | ($will->{retain} ? 0x20 : 0)
        if $will;
    $flags |= 0x80 if defined $o{username};
    $flags |= 0x40 if defined $o{password};
    $flags = $o{flags} if defined $o{flags};

    my $s = mqtt_string('MQTT') . pack('CCn', $level, $flags,
                                       $o{keepalive} // 60);
    $s .= properties($o{properties}) if $level == 5;
    $s .= mqtt_string($o{client_id} // '');

    if ($will) {
        $s .= properties($will->{properties}) if $level == 5;
        $s .= mqtt_string($will->{topic}) . mqtt_string($will->{payload} // '');
    }

    $s .= mqtt_string($o{username}) if defined $o{username};
    $s .= mqtt_string($o{password}) if defined $o{password};
    $s .= $o{tail} // '';

    return "\x10" . varint(length $s) . $s;
}

# The reason code of the CONNACK at the start of $bytes, or undef when
# they do not start with a complete CONNACK.

sub mqtt_connack_code {
    my ($bytes) = @_;

    my ($size, $header) = packet_size($bytes);

    return undef unless defined $size && length($bytes) >= $size
                        && ord($bytes) == 0x20 && $size >= $header + 2;

    return ord(substr($bytes, $header + 1, 1));
}

# Connects to 127.0.0.1:PORT, sends $data (a string, or an array of
# segments sent delay => S apart, 0.05 s by default) and reads what comes
# back until the peer closes, a complete CONNACK has arrived (unless
# wait_close => 1) or timeout => S (3 s) have passed.  Returns
# { bytes, closed (the peer closed), connack (its code, or undef) }.

sub mqtt_exchange {
    my ($port, $data, %o) = @_;

    local $SIG{PIPE} = 'IGNORE';

    my %r = (bytes => '', closed => 0);

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp',
                                     Timeout => 5)
        or return \%r;

    my $sel = IO::Select->new($sock);
    my @segments = ref $data ? @$data : ($data);

    while (@segments) {
        last unless defined syswrite($sock, shift @segments);
        sleep($o{delay} // 0.05) if @segments;
    }

    my $deadline = time + ($o{timeout} // 3);

    while (time < $deadline) {
        last if !$o{wait_close} && defined mqtt_connack_code($r{bytes});
        next unless $sel->can_read(0.02);

        my $n = sysread($sock, my $chunk, 65536);
        if (!$n) {
            $r{closed} = 1;
            last;
        }
        $r{bytes} .= $chunk;
    }

    close $sock;

    $r{connack} = mqtt_connack_code($r{bytes});
    return \%r;
}

# Runs the module's CONNECT parser (the unit-check program
# build/unit/mqtt_connect, in its "parse" mode) over each packet.
# Returns one line a packet: "NGX_OK size=N level=L flags=0xFF
# keepalive=K client_id=HEX username=HEX|- password=HEX|-", "NGX_AGAIN"
# or "NGX_ERROR \"reason\"".

sub mqtt_parse {
    my (@packets) = @_;
    return unit('parse', map { unpack('H*', $_) } @packets);
}

# The module's refusing CONNACKs for protocol level 4 or 5, as bytes:
# (bad user name or password, server unavailable).

sub mqtt_connack {
    my ($level) = @_;
    return map { pack('H*', $_) } unit('connack', $level);
}

sub unit {
    my (@args) = @_;

    die "$Unit is missing: make test builds it\n" unless -x $Unit;

    open(my $fh, '-|', $Unit, @args) or die "$Unit: $!";
    my @lines = <$fh>;
    close $fh;

    die "$Unit @args[0, 1] ... failed: $?\n" if $?;

    chomp @lines;
    return @lines;
}

END {
    local $?;
    mosquitto_stop($_) for keys %Brokers;
}

1;

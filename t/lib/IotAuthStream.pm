package IotAuthStream;

# Helpers for the tests of the MQTT front end (ngx_stream_iot_auth_module)
# under Test::Nginx: the stream{} block the blocks run, many MQTT clients
# at once, what the broker saw, and the stream zones' lines of the HTTP
# status page.  The broker and the single clients are t/lib/IotAuthMqtt.pm.
#
# Loading this module sets, unless they are set already:
#
#   TEST_NGINX_STREAM_LOAD   the load_module lines for main_config: Debian's
#                            ngx_stream_module.so (unless the nginx binary
#                            has stream built in, as the ASan one does),
#                            then TEST_NGINX_STREAM_MODULE (default
#                            build/ngx_stream_iot_auth_module.so)
#   TEST_NGINX_MQTT_PORT     a free port for the stream server
#
# The real Test::Nginx runs `--- init` in another package and `eval`
# sections in Test::Base's filter package: call these by their full
# names (IotAuthStream::mqtt_herd).

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use IO::Select;
use IO::Socket::INET;
use IotAuthMqtt qw(mqtt_connack_code);
use IotAuthRedis qw(free_port);
use IotAuthTest ();
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(stream_block mqtt_herd mqtt_log broker_connections
                    broker_saw zone_summary);

my $Root = dirname(dirname(File::Spec->rel2abs(dirname(__FILE__))));

$ENV{TEST_NGINX_STREAM_LOAD} //= stream_load();
$ENV{TEST_NGINX_MQTT_PORT} //= free_port();

# load_module lines: nginx's stream module first, unless it is built in

sub stream_load {
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $so = $ENV{TEST_NGINX_STREAM_MODULE}
             || "$Root/build/ngx_stream_iot_auth_module.so";

    my $v = `$nginx -V 2>&1`;
    my $lines = '';

    $lines .= "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n"
        unless $v =~ /--with-stream(?:\s|$)/;

    return $lines . "load_module $so;\n";
}

# The main_config of a block: the load_module lines, the iot_auth thread
# pool and a stream{} block with the zone "mqtt" and one server on
# TEST_NGINX_MQTT_PORT in front of the broker on $broker, logging
# "$iot_auth_device $iot_auth_result $iot_auth_perms $status" to
# logs/mqtt.log.  %o: stream (more lines for stream{}), server (more
# lines for the server), listen (more parameters of its listen, such as
# "ssl"), zone (the iot_auth_zone arguments, default
# "zone=mqtt:1m"), credentials (default "file=../html/creds"; "none"
# leaves the directive out), pool
# (the thread_pool line's arguments, default "iot_auth threads=2").

sub stream_block {
    my ($broker, %o) = @_;

    my $zone = $o{zone} // 'zone=mqtt:1m';
    my $creds = $o{credentials} // 'file=../html/creds';
    $creds = $creds eq 'none' ? '' : "iot_auth_credentials $creds;";
    my $pool = $o{pool} // 'iot_auth threads=2';
    my $stream = indent($o{stream} // '', 4);
    my $server = indent($o{server} // '', 8);
    my $listen = $o{listen} ? " $o{listen}" : '';

    return <<"_EOC_";
$ENV{TEST_NGINX_STREAM_LOAD}
thread_pool $pool;

stream {
    iot_auth_zone $zone;

    log_format mqtt '\$iot_auth_device \$iot_auth_result \$iot_auth_perms '
                    '\$status';
$stream
    server {
        listen 127.0.0.1:$ENV{TEST_NGINX_MQTT_PORT}$listen;

        iot_auth zone=mqtt;
        $creds
        access_log logs/mqtt.log mqtt;
$server
        proxy_pass 127.0.0.1:$broker;
    }
}
_EOC_
}

sub indent {
    my ($text, $n) = @_;
    return join '', map { (' ' x $n) . "$_\n" } split /\n/, $text;
}

# Opens one connection to 127.0.0.1:$port for each packet of $packets,
# all at once, sends each its packet and reads until a complete CONNACK
# has come or the peer closed, $o{timeout} seconds (default 30) at most
# for all.  Returns in packet order the CONNACK's code, "closed" or
# "timeout", and with $o{times} also the seconds each took, as
# [ code, seconds ] pairs.

sub mqtt_herd {
    my ($port, $packets, %o) = @_;

    local $SIG{PIPE} = 'IGNORE';

    my $t0 = time;
    my $deadline = $t0 + ($o{timeout} // 30);
    my $sel = IO::Select->new;
    my (@conns, %by_fd);

    for my $i (0 .. $#$packets) {
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $port, Proto => 'tcp',
                                         Timeout => 5)
            or die "connect to $port: $!";
        $sock->blocking(0);

        my $c = { sock => $sock, bytes => '', result => 'timeout' };
        push @conns, $c;
        $by_fd{ fileno $sock } = $c;
        $sel->add($sock);
    }

    for my $i (0 .. $#conns) {
        my $n = syswrite($conns[$i]{sock}, $packets->[$i]) // 0;
        die "short write of a CONNECT" unless $n == length $packets->[$i];
    }

    while ($sel->count && time < $deadline) {
        for my $sock ($sel->can_read(0.05)) {
            my $c = $by_fd{ fileno $sock };
            my $n = sysread($sock, my $chunk, 4096);

            if (defined $n && $n > 0) {
                $c->{bytes} .= $chunk;
                my $code = mqtt_connack_code($c->{bytes});
                next unless defined $code;
                $c->{result} = $code;
            } elsif (!defined $n && $!{EAGAIN}) {
                next;
            } else {
                $c->{result} = 'closed';
            }

            $c->{time} = time - $t0;
            $sel->remove($sock);
        }
    }

    close $_->{sock} for @conns;

    return map { [ $_->{result}, $_->{time} ] } @conns if $o{times};
    return map { $_->{result} } @conns;
}

# The lines of the stream access log (logs/mqtt.log), chomped, once it
# has $n of them (5 s at most: a session is logged when it ends).

sub mqtt_log {
    my ($n) = @_;

    my $file = IotAuthTest::log_file('mqtt.log');
    my @lines;

    for (1 .. 100) {
        if (open my $fh, '<', $file) {
            @lines = <$fh>;
            last if @lines >= $n;
        }
        sleep 0.05;
    }

    chomp @lines;
    return @lines;
}

# How many connections mosquitto NAME has accepted so far, by its log.

sub broker_connections {
    my ($name) = @_;

    my @n = IotAuthMqtt::mosquitto_log($name) =~ /New connection from/g;
    return scalar @n;
}

# Whether mosquitto NAME's log names client id $id (a client it saw).

sub broker_saw {
    my ($name, $id) = @_;

    return IotAuthMqtt::mosquitto_log($name) =~ /\Q$id\E/ ? 1 : 0;
}

# A response_body_filters sub: the status page becomes the non-zero
# numbers of zone $zone ("miss 1", "match 1", "entries 1", ...) and
# whether its lines carry frontend="mqtt" ("frontend mqtt" first); any
# other body stays as it is.

sub zone_summary {
    my ($zone) = @_;

    return sub {
        my ($body) = @_;

        return $body if $body !~ /^iot_auth_/m;

        my $out = '';
        $out .= "frontend mqtt\n"
            if $body =~ /^iot_auth_\w+\{zone="\Q$zone\E",frontend="mqtt"/m;

        my $line = qr/^iot_auth_(\w+)\{zone="\Q$zone\E"(?:,frontend="\w+")?
                      (?:,\w+="(\w+)")?\}\ (\d+)$/mx;

        while ($body =~ /$line/g) {
            my ($metric, $label, $n) = ($1, $2, $3);
            next if $n == 0;
            $out .= ($label // $metric =~ s/^cache_|_total$//gr) . " $n\n";
        }

        return $out;
    };
}

1;

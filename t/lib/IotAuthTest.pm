package IotAuthTest;

# Helpers for the ngx_iot_auth suite that Test::Nginx::Socket has no
# section for: many concurrent clients, and signals to nginx processes.
# They work under the real Test::Nginx and under t/compat alike.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(herd tally write_html worker_pids);

# Sends one request per entry of $reqs, each on its own connection, and
# waits for every answer (bounded by $opts{timeout}, default 30 s).
# A request is { uri => '/p', headers => { Name => 'value' },
# delay => seconds before it is sent, abort_after => seconds after which
# the client hangs up }.  $opts{at} = [ seconds, sub { ... } ] runs the
# sub once, that long after the start, while the herd is in flight.
# Returns a list of { status, time, end } in request order; status is the
# HTTP code or 'aborted', 'timeout' or 'none' (closed without an answer),
# end is the time the answer completed.

sub herd {
    my ($reqs, %opts) = @_;

    my $port = $opts{port} // $ENV{TEST_NGINX_SERVER_PORT} // 1984;
    my $t0 = time;
    my $deadline = $t0 + ($opts{timeout} // 30);
    my ($at, $hook) = @{ $opts{at} || [] };

    my @conns = map { { req => $_, send_at => $t0 + ($_->{delay} // 0) } }
                @$reqs;
    my @unsent = @conns;
    my %by_fd;
    my $sel = IO::Select->new;

    while ((@unsent || $sel->count) && time < $deadline) {
        while (@unsent && time >= $unsent[0]{send_at}) {
            send_request(shift @unsent, $port, $sel, \%by_fd);
        }

        if ($hook && time - $t0 >= $at) {
            $hook->();
            undef $hook;
        }

        for my $c (values %by_fd) {
            next unless $c->{abort_at} && time >= $c->{abort_at};
            finish($c, $sel, \%by_fd, 'aborted');
        }

        for my $sock ($sel->can_read(0.005)) {
            my $c = $by_fd{ fileno $sock } or next;
            my $n = sysread $sock, my $chunk, 65536;
            next if !defined $n && $!{EAGAIN};
            if ($n) {
                $c->{buf} .= $chunk;
                next;
            }
            finish($c, $sel, \%by_fd);
        }

        sleep 0.005 unless $sel->count;
    }

    for my $c (values %by_fd) {
        finish($c, $sel, \%by_fd, 'timeout');
    }

    return map { { status => $_->{status} // 'unsent', time => $_->{time},
                   end => $_->{end} } } @conns;
}

sub send_request {
    my ($c, $port, $sel, $by_fd) = @_;

    my $req = $c->{req};
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp',
                                     Timeout => 5)
        or die "connect to 127.0.0.1:$port failed: $!";

    my $hdrs = join '', map { "$_: $req->{headers}{$_}\r\n" }
                        sort keys %{ $req->{headers} || {} };
    my $uri = $req->{uri} // '/';

    print $sock "GET $uri HTTP/1.1\r\nHost: localhost\r\n$hdrs"
                . "Connection: close\r\n\r\n";
    $sock->blocking(0);

    $c->{sock} = $sock;
    $c->{buf} = '';
    $c->{start} = time;
    $c->{abort_at} = $c->{start} + $req->{abort_after}
        if defined $req->{abort_after};

    $by_fd->{ fileno $sock } = $c;
    $sel->add($sock);
}

sub finish {
    my ($c, $sel, $by_fd, $why) = @_;

    delete $by_fd->{ fileno $c->{sock} };
    $sel->remove($c->{sock});
    close $c->{sock};

    $c->{end} = time;
    $c->{time} = $c->{end} - $c->{start};
    $c->{status} = $why
                   // ($c->{buf} =~ m{^HTTP/1\.[01] (\d{3})} ? $1 : 'none');
}

# "status:count" lines, one per status seen, in status order.

sub tally {
    my %n;
    $n{ $_->{status} }++ for @_;

    return join '', map { "$_:$n{$_}\n" } sort keys %n;
}

# Writes a file under the server's html directory, so that a following
# request of the same block can show what the init step saw.

sub write_html {
    my ($name, $text) = @_;

    my $root = $ENV{TEST_NGINX_SERVER_ROOT} or die "no TEST_NGINX_SERVER_ROOT";

    open my $fh, '>', "$root/html/$name" or die "$root/html/$name: $!";
    print $fh $text;
    close $fh;
}

# The pids of nginx's worker processes (the children of the master).

sub worker_pids {
    my $root = $ENV{TEST_NGINX_SERVER_ROOT} or die "no TEST_NGINX_SERVER_ROOT";

    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    chomp(my $master = <$fh>);
    close $fh;

    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $s, '<', $stat or next;
        my $line = <$s>;
        close $s;
        next unless $line && $line =~ /^(\d+) \(nginx\) \S (\d+)/;
        push @pids, $1 if $2 == $master;
    }

    return sort { $a <=> $b } @pids;
}

1;

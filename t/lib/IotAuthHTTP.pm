package IotAuthHTTP;

# The HTTP client of the suite's helpers (herd, http_get, pinned
# connections): one GET at a time on a connection to 127.0.0.1, in
# HTTP/1.1, or in HTTP/2 over cleartext with prior knowledge (h2c) when
# the test server speaks it (TEST_NGINX_USE_HTTP2, see h2 below), as the
# framework's own requests then do.
# HTTP/2 comes from Debian's libprotocol-http2-perl, loaded only then.
#
#   my $c = IotAuthHTTP->new(port => $port, keepalive => 1);
#   $c->send('/p', { 'X-Device-Id' => 'dev1' });
#   my $res = $c->wait(5);    # { status, headers, body }
#
# or, for many connections in one select() loop: $c->sock, then
# $c->on_readable until it returns true, then $c->response.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

# Whether the test server speaks HTTP/2: its nginx.conf listens with
# "http2" or says "http2 on".  The framework decides this per block
# (TEST_NGINX_USE_HTTP2 leaves out, for one, blocks that proxy to the
# server's own port), so the helpers follow the config, not the variable.

sub h2 {
    my $root = $ENV{TEST_NGINX_SERVER_ROOT} or return 0;

    open my $fh, '<', "$root/conf/nginx.conf" or return 0;
    my $conf = do { local $/; <$fh> };
    close $fh;

    return $conf =~ /^\s*(?:listen\s[^;]*\bhttp2\b|http2\s+on\s*;)/m
           ? 1 : 0;
}


# Connects (dies if it cannot).  keepalive => 1 keeps the connection open
# after each response, for the next request.

sub new {
    my ($class, %opts) = @_;

    my $port = $opts{port} // $ENV{TEST_NGINX_SERVER_PORT} // 1984;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp',
                                     Timeout => 5)
        or die "connect to 127.0.0.1:$port failed: $!";
    $sock->autoflush(1);

    my $self = bless { sock => $sock, keepalive => $opts{keepalive} // 0,
                       h2 => $opts{h2} // h2(), buf => '' }, $class;

    if ($self->{h2}) {
        require Protocol::HTTP2::Client;
        $self->{client} = Protocol::HTTP2::Client->new(
            keepalive => $self->{keepalive});
    }

    return $self;
}


sub sock { $_[0]{sock} }


# Sends GET $uri with the given headers; the previous response, if any,
# must have been read.

sub send {
    my ($self, $uri, $headers) = @_;

    my %h = %{ $headers || {} };
    $self->{response} = undef;

    if ($self->{h2}) {
        $self->{client}->request(
            ':scheme' => 'http', ':authority' => 'localhost',
            ':path' => $uri, ':method' => 'GET',
            headers => [ map { (lc $_ => $h{$_}) } sort keys %h ],
            on_done => sub {
                my ($head, $body) = @_;
                $self->{response} = h2_response($head, $body);
            });
        $self->flush_frames;
        return;
    }

    my $conn = $self->{keepalive} ? '' : "Connection: close\r\n";
    $self->write("GET $uri HTTP/1.1\r\nHost: localhost\r\n"
                 . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
                 . "$conn\r\n");
}


# Reads what the socket holds (call it when select() says it is
# readable).  Returns true when the response is complete or the
# connection has closed.

sub on_readable {
    my ($self) = @_;

    my $n = sysread $self->{sock}, my $chunk, 65536;
    return 0 if !defined $n && $!{EAGAIN};

    if (!$n) {
        $self->{closed} = 1;
        $self->{response} //= $self->{h2} ? { status => 'none' }
                                          : h1_response($self->{buf});
        return 1;
    }

    if ($self->{h2}) {
        $self->{client}->feed($chunk);
        $self->flush_frames;
        return $self->{response} ? 1 : 0;
    }

    $self->{buf} .= $chunk;
    return 0 unless $self->{keepalive};

    # a keep-alive response ends after Content-Length bytes of body
    return 0 unless $self->{buf} =~ /^(.*?\r\n\r\n)/s;
    my $head = $1;
    my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
    my $need = length($head) + ($len // 0);
    return 0 if length $self->{buf} < $need;

    $self->{response} = h1_response(substr $self->{buf}, 0, $need, '');
    return 1;
}


# The response read: { status, headers => { lower-case name => value },
# body }; status is the HTTP code, or 'none' if the connection closed
# without one.

sub response { $_[0]{response} }


# Waits $timeout seconds at most for the response; returns it, or
# { status => 'timeout' } (or 'closed' on a keep-alive connection that
# the server closed first).

sub wait {
    my ($self, $timeout) = @_;

    my $sel = IO::Select->new($self->{sock});
    my $deadline = time + $timeout;

    while (!$self->{response}) {
        return { status => 'closed', headers => {}, body => '' }
            if $self->{closed};
        my $left = $deadline - time;
        return { status => 'timeout', headers => {}, body => '' }
            if $left <= 0;
        $self->on_readable if $sel->can_read($left);
    }

    my $res = $self->{response};
    $self->{response} = undef;
    return $res;
}


sub close {
    my ($self) = @_;

    CORE::close $self->{sock} if $self->{sock};
    $self->{sock} = undef;
}


sub flush_frames {
    my ($self) = @_;

    while (my $frame = $self->{client}->next_frame) {
        $self->write($frame);
    }
}


sub write {
    my ($self, $data) = @_;

    my $sel = IO::Select->new($self->{sock});
    while (length $data) {
        my $n = syswrite $self->{sock}, $data;
        if (!defined $n) {
            return if !$!{EAGAIN};
            $sel->can_write(1);
            next;
        }
        substr($data, 0, $n) = '';
    }
}


sub h1_response {
    my ($raw) = @_;

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return { status => 'none', headers => {}, body => '' }
        unless $head && $head =~ m{^HTTP/1\.[01] (\d{3})};

    my %res = (status => $1, headers => {}, body => $body // '');
    for my $line (split /\r\n/, $head) {
        $res{headers}{ lc $1 } = $2 if $line =~ /^([^:]+):\s*(.*)$/;
    }
    return \%res;
}


sub h2_response {
    my ($head, $body) = @_;

    my %h;
    for (my $i = 0; $i < @{ $head || [] }; $i += 2) {
        $h{ lc $head->[$i] } = $head->[$i + 1];
    }
    my $status = delete $h{':status'} // 'none';
    return { status => $status, headers => \%h, body => $body // '' };
}

1;

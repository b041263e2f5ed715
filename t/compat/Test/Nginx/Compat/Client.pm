package Test::Nginx::Compat::Client;

# HTTP/1.x client side of the compat Test::Nginx::Socket: turns the request
# sections of a block into wire packets, exchanges them over a socket with
# every wait bounded, and parses the raw response.  Errors in the request
# spec are reported with die(); the caller turns them into a bail out.
# In HTTP/2 mode (h2c with prior knowledge, TEST_NGINX_USE_HTTP2) the same
# request goes out through Protocol::HTTP2 (Debian's
# libprotocol-http2-perl, loaded only then), and its answer is given back
# as HTTP/1.x-style text for the same parser.

use strict;
use warnings;

use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use Exporter qw(import);
use IO::Socket::INET ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(
    build_requests connect_once exchange exchange_h2 parse_response
    header_value http_get
);


# Returns an array ref of requests; each request is an array ref of packets
# ({ value => $bytes, delay_before => $secs }) written with separate
# syswrite() calls on one connection.
sub build_requests {
    my (%spec) = @_;

    if (defined $spec{raw_request}) {
        my $raw = $spec{raw_request};
        my @bits = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        return [[ map { { value => $_ } } @bits ]];
    }

    my $more = defined $spec{more_headers} ? $spec{more_headers} : '';
    my $host = $spec{server_name};

    if (my $reqs = $spec{pipelined_requests}) {
        die "invalid entries in --- pipelined_requests\n"
            if ref $reqs ne 'ARRAY';

        my $wire = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my $hdrs = pick_headers($more, $i, 'pipelined request');
            $wire .= join '', @{ assemble([$reqs->[$i]], $hdrs, $conn,
                                          $host) };
        }
        return [[ { value => $wire } ]];
    }

    my $request = $spec{request};
    die "Request line should be non-empty\n" if !defined $request;

    if (!ref $request) {
        $request = strip_comments($request);
        my $hdrs = pick_headers($more, 0, 'request');
        return [[ map { { value => $_ } }
                  @{ assemble([$request], $hdrs, 'close', $host) } ]];
    }

    die "invalid --- request: MUST be string or array of requests\n"
        if ref $request ne 'ARRAY';

    my @list;
    for my $i (0 .. $#$request) {
        my $hdrs = pick_headers($more, $i, "${i}th request");
        push @list, packets_for($request->[$i], $hdrs, $host);
    }
    return \@list;
}


sub strip_comments {
    my ($text) = @_;

    1 while $text =~ s/^\s*#[^\n]+\s+|^\s+//s;
    return $text;
}


sub pick_headers {
    my ($more, $idx, $what) = @_;

    return $more if ref $more ne 'ARRAY';

    my $hdrs = $more->[$idx];
    die "--- more_headers lacks data for the $what\n" if !defined $hdrs;
    return $hdrs;
}


sub packets_for {
    my ($req, $hdrs, $host) = @_;

    if (!ref $req) {
        return [ map { { value => $_ } }
                 @{ assemble([$req], $hdrs, 'close', $host) } ];
    }

    die "$req should be a string or an array of packets\n"
        if ref $req ne 'ARRAY';

    my @orig = map {
        my $p = $_;
        !ref $p              ? { value => $p }
        : ref $p eq 'HASH'   ? { %$p }
        : die "$p should be a string or hash with value\n";
    } @$req;

    my $values = assemble([ map { $_->{value} } @orig ], $hdrs, 'close',
                          $host);
    $orig[$_]{value} = $values->[$_] for 0 .. $#orig;
    return \@orig;
}


sub parse_more_headers {
    my ($text) = @_;

    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $text) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val = '' if !defined $val;
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}


# Rewrites "METHOD [URI [VERSION]]\nbody" into a full HTTP request and
# spreads it back over the caller's packet boundaries: the request head goes
# into the packet holding the end of the first line, body bytes stay in the
# packets that carried them.
sub assemble {
    my ($packets, $more, $conn, $host) = @_;

    my $whole = join '', @$packets;
    my ($first, $body) = $whole =~ /\A([^\n]*\n?)(.*)\z/s;

    die "Request line should be non-empty\n" if $first eq '';
    $first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or die "Request line is not valid. Should be 'meth [url [version]]'"
               . " but got \"$first\".\n";
    my ($meth, $uri, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my ($hdrs, $chunked) = parse_more_headers($more);

    my $len = '';
    my $new_body = $body;
    if (!$chunked && $body ne '' && $hdrs !~ /(?:^|\n)Content-Length:/) {
        $new_body =~ s/^\s+|\s+$//gs;
        $len = 'Content-Length: ' . length($new_body) . "\r\n";
    }

    my $head = '';
    $head .= "Host: $host\r\n" if $hdrs !~ /(?:^|\n)Host:/msi;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/msi;
    my $line = "$meth $uri $ver\r\n";
    $head = "$head$hdrs$len\r\n";

    return spread($packets, length $first, $line, $head, $new_body);
}


sub spread {
    my ($packets, $first_len, $line, $head, $body) = @_;

    my @out;
    my $pos = 0;
    for my $p (@$packets) {
        my ($start, $end) = ($pos, $pos + length $p);
        $pos = $end;
        my $out = '';

        if ($start < $first_len) {
            if ($end < $first_len) {
                push @out, substr($line, 0, length $p, '');
                next;
            }
            $out = $line . $head;
            $line = '';
        }

        my $take = $end - ($start < $first_len ? $first_len : $start);
        $out .= substr($body, 0, $take, '');
        push @out, $out;
    }

    $out[-1] .= $body if @out;
    return \@out;
}


sub connect_once {
    my ($addr, $port, $timeout) = @_;

    return IO::Socket::INET->new(
        PeerAddr => $addr,
        PeerPort => $port,
        Proto    => 'tcp',
        Timeout  => $timeout,
    );
}


# Writes the packets and reads until EOF.  $o{timeout} bounds the gap
# between two I/O events, like the real framework; $o{limit}, if given, the
# whole exchange.  Returns ($response, $timed_out).
sub exchange {
    my ($sock, %o) = @_;

    local $SIG{PIPE} = 'IGNORE';
    $sock->blocking(0);

    my @queue = @{ $o{packets} };
    my ($buf, $off) = ((shift @queue)->{value}, 0);
    my ($resp, $writing, $timed_out) = ('', 1, 0);
    my $fd = fileno $sock;
    my $end = time + ($o{limit} || 1e9);

    while (1) {
        my $rin = '';
        vec($rin, $fd, 1) = 1;
        my $win = $writing ? $rin : undef;

        my $wait = $end - time;
        $wait = $o{timeout} if $wait > $o{timeout};
        my $n = $wait > 0 ? wait_io($rin, $win, $wait) : 0;
        if ($n == 0) {
            $timed_out = 1;
            last;
        }

        if ($writing && vec($win, $fd, 1)) {
            my $st = write_some($sock, \$buf, \$off, \@queue,
                                $o{middle_delay});
            if ($st ne 'more') {
                $writing = 0;
                shutdown($sock, $o{shutdown}) if $st eq 'done'
                                                 && defined $o{shutdown};
            }
        }

        if (vec($rin, $fd, 1)) {
            last if !read_some($sock, \$resp, $o{name});
        }
    }

    close $sock;
    return ($resp, $timed_out);
}


# The HTTP/2 form of exchange(): sends the request held by the packets
# (written as HTTP/1.x by build_requests) as one HTTP/2 stream and waits
# for its answer, which comes back as "HTTP/2 CODE", header lines, an
# empty line and the body.  Returns ($response, $timed_out); the response
# is empty if the connection closed first.
sub exchange_h2 {
    my ($sock, %o) = @_;

    require Protocol::HTTP2::Client;
    local $SIG{PIPE} = 'IGNORE';

    my %req = h2_request(join '', map { $_->{value} } @{ $o{packets} });
    my $resp;
    my $client = Protocol::HTTP2::Client->new;
    $client->request(%req, on_done => sub {
        my ($headers, $body) = @_;
        my @h = @{ $headers || [] };
        my $text = '';
        my $code = 'none';
        while (my ($k, $v) = splice @h, 0, 2) {
            if ($k eq ':status') {
                $code = $v;
            } else {
                $text .= "$k: $v\r\n";
            }
        }
        $resp = "HTTP/2 $code\r\n$text\r\n" . ($body // '');
    });

    my $fd = fileno $sock;
    my $end = time + ($o{limit} || 1e9);
    my $timed_out = 0;

    while (!defined $resp) {
        while (my $frame = $client->next_frame) {
            my $off = 0;
            while ($off < length $frame) {
                my $n = syswrite $sock, $frame, length($frame) - $off, $off;
                last if !defined $n && $! != EINTR;
                $off += $n // 0;
            }
        }

        my $rin = '';
        vec($rin, $fd, 1) = 1;
        my $wait = $end - time;
        $wait = $o{timeout} if $wait > $o{timeout};
        if ($wait <= 0 || !wait_io($rin, undef, $wait)) {
            $timed_out = 1;
            last;
        }

        my $n = sysread $sock, my $chunk, 65536;
        next if !defined $n && $! == EINTR;
        last if !$n;
        $client->feed($chunk);
    }

    close $sock;
    return ($resp // '', $timed_out);
}


# The pseudo-headers, headers and body of an HTTP/1.x request, for
# Protocol::HTTP2::Client->request: Host becomes :authority, and the
# connection-specific headers HTTP/2 forbids are left out.
sub h2_request {
    my ($wire) = @_;

    my ($head, $body) = split /\r\n\r\n/, $wire, 2;
    my ($line, @lines) = split /\r\n/, $head;
    my ($meth, $uri) = split ' ', $line;

    my %req = (':method' => $meth, ':path' => $uri, ':scheme' => 'http',
               ':authority' => 'localhost', headers => []);
    for my $l (@lines) {
        my ($k, $v) = split /:\s*/, $l, 2;
        $k = lc $k;
        if ($k eq 'host') {
            $req{':authority'} = $v;
        } elsif ($k !~ /^(?:connection|keep-alive|proxy-connection
                           |transfer-encoding|upgrade|te)$/x) {
            push @{ $req{headers} }, $k => $v // '';
        }
    }
    $req{data} = $body if defined $body && length $body;

    return %req;
}


# select() that restarts on EINTR without extending the deadline; returns
# the number of ready handles (0 on timeout) and updates the vectors.
sub wait_io {
    my ($rin, $win, $timeout) = @_;

    my $deadline = time + $timeout;
    while (1) {
        my ($r, $w) = ($rin, $win);
        my $left = $deadline - time;
        $left = 0 if $left < 0;
        my $n = select($r, $w, undef, $left);
        if ($n > 0) {
            $_[0] = $r;
            $_[1] = $w if defined $win;
            return $n;
        }
        return 0 if $n == 0 || !$!{EINTR} || $left == 0;
    }
}


sub write_some {
    my ($sock, $buf, $off, $queue, $middle_delay) = @_;

    while (1) {
        my $rest = length($$buf) - $$off;
        if ($rest > 0) {
            my $n = syswrite $sock, $$buf, $rest, $$off;
            if (!defined $n) {
                return 'more' if $! == EAGAIN || $! == EWOULDBLOCK;
                warn "write failed: $!\n";
                return 'error';
            }
            $$off += $n;
            next;
        }

        my $next = shift @$queue;
        return 'done' if !$next;

        my $delay = defined $next->{delay_before} ? $next->{delay_before}
                                                  : $middle_delay;
        sleep $delay if $delay;
        ($$buf, $$off) = ($next->{value}, 0);
    }
}


sub read_some {
    my ($sock, $resp, $name) = @_;

    while (1) {
        my $n = sysread $sock, my $chunk, 65536;
        if (!defined $n) {
            return 1 if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            warn "WARNING: $name - HTTP response read failure: $!\n";
            return 0;
        }
        return 0 if $n == 0;
        $$resp .= $chunk;
    }
}


# Parses one response off the front of $raw.  Returns ($res, $raw_headers,
# $left_over, $error); $res is { code, protocol, message, headers, content }.
sub parse_response {
    my ($raw, $is_head) = @_;

    my $raw_headers = $raw =~ /\A(.*?\r\n)\r\n/s ? $1 : '';
    my ($status, $rest) = $raw =~ /\A([^\n]*)\n?(.*)\z/s;
    $status =~ s/\r\z//;

    my ($proto, $code, $msg) = $status =~ /^\d{3}(?: |\z)/
                               ? (undef, split ' ', $status, 2)
                               : split ' ', $status, 3;
    undef $code if defined $code && $code !~ /^\d+$/;

    my ($headers, $content) = split_headers($rest);
    my $res = { code => $code, protocol => $proto, message => $msg,
                headers => $headers, content => $content };

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $te = header_value($res, 'Transfer-Encoding');
    my $len = header_value($res, 'Content-Length');
    my ($left, $err);

    if (defined $te && $te eq 'chunked') {
        (my $body, $left, $err) = decode_chunked($content);
        return (undef, $raw_headers, undef, $err) if defined $err;
        $res->{content} = $body;

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $content < $len) {
            warn "WARNING: response body truncated: $len expected, but got "
                 . length($content) . "\n" if !$is_head;

        } elsif (length $content > $len) {
            $left = substr $content, $len;
            $res->{content} = substr $content, 0, $len;
        }
    }

    return ($res, $raw_headers, $left);
}


# Header lines up to the first line that is not one (normally the empty
# line); everything after that is the body.
sub split_headers {
    my ($text) = @_;

    my @headers;
    while (1) {
        if ($text =~ s/^([^\s:]+)[ \t]*: ?([^\n]*)\n?//) {
            push @headers, [$1, $2];
        } elsif (@headers && $text =~ s/^[ \t]+([^\n]*)\n?//) {
            $headers[-1][1] .= " $1";
        } else {
            $text =~ s/^\r?\n//;
            last;
        }
        $headers[-1][1] =~ s/\r\z//;
    }
    return (\@headers, $text);
}


sub decode_chunked {
    my ($raw) = @_;

    my ($body, $pos) = ('', 0);
    while (1) {
        pos($raw) = $pos;
        if ($raw =~ /\G0[ \t]*\r\n\r\n/gc) {
            my $left = substr $raw, pos $raw;
            return ($body, length $left ? $left : undef);
        }

        if ($raw !~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
            return (undef, undef, pos($raw) < length $raw
                    ? 'invalid chunked body received: '
                      . substr($raw, pos $raw)
                    : "no last chunk found - $raw");
        }

        my ($size, $start) = (hex $1, pos $raw);
        return (undef, undef, 'invalid chunked data received (not enough '
                              . 'octets for the data section)')
            if length($raw) - $start < $size;

        $body .= substr $raw, $start, $size;
        $pos = $start + $size;
        return (undef, undef, 'invalid chunked data received (expected CRLF).')
            if substr($raw, $pos, 2) ne "\r\n";
        $pos += 2;
    }
}


# Case-insensitive lookup; repeated headers are joined with ", " as
# HTTP::Headers does in scalar context.
sub header_value {
    my ($res, $name) = @_;

    return undef if !$res;
    my @vals = map { $_->[1] } grep { lc $_->[0] eq lc $name }
               @{ $res->{headers} };
    return @vals ? join(', ', @vals) : undef;
}


# One-shot GET used for HUP-reload polling, over HTTP/2 if $h2; returns
# the body or undef.
sub http_get {
    my ($addr, $port, $path, $host, $timeout, $h2) = @_;

    my $sock = connect_once($addr, $port, $timeout) or return undef;
    my $send = $h2 ? \&exchange_h2 : \&exchange;
    my ($raw, $timed_out) = $send->($sock, timeout => $timeout, name => '',
        packets => [{ value => "GET $path HTTP/1.1\r\nHost: $host\r\n"
                               . "Connection: close\r\n\r\n" }]);
    return undef if $timed_out;

    my ($res) = parse_response($raw, 0);
    return $res && $res->{code} && $res->{code} == 200 ? $res->{content}
                                                      : undef;
}


1;

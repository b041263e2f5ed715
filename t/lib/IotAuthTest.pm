package IotAuthTest;

# Helpers for the ngx_iot_auth suite that Test::Nginx::Socket has no
# section for: many concurrent clients, signals to nginx processes, and
# the preamble pieces the .t files share (block defaults, request
# headers, a status page summary).  They work under the real Test::Nginx
# and under t/compat alike.  Everything is exported on request only.
#
# The real Test::Nginx runs `--- init` in package Test::Nginx::Util and
# `eval` sections in Test::Base's filter package: call these there by
# their full names (IotAuthTest::herd) or as main::x after importing x.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(herd tally write_html worker_pids
                    block_defaults p_defaults p_config p_files p_req creds
                    summary herds steps wait_lines
                    pinned_conns ka_send ka_status by_worker);

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

# For add_block_preprocessor(sub { block_defaults(shift, %sections) }):
# gives the block each section NAME => VALUE of %sections that it leaves
# out.  main_config and http_config default to the pool and the zone
# "iot" that most files use; pass them (undef for none) to change that.

sub block_defaults {
    my ($block, %sections) = @_;

    %sections = (main_config => "thread_pool iot_auth threads=2;\n",
                 http_config => "iot_auth_zone zone=iot:1m;\n",
                 %sections);

    for my $name (sort keys %sections) {
        next if !defined $sections{$name} || defined $block->$name;
        $block->set_value($name => $sections{$name});
    }
}

# The config of the files that test the cache: the static file /p behind
# iot_auth (credentials in html/creds, $iot_auth_result in X-Result) and
# the status page at /status.  %opt: zone (default "iot"), more (lines
# added to /p).

sub p_config {
    my (%opt) = @_;

    my $zone = $opt{zone} // 'iot';
    my $more = join '', map { "        $_\n" } split /\n/, $opt{more} // '';

    return <<"_EOC_";
    location = /p {
        iot_auth zone=$zone;
        iot_auth_credentials file=../html/creds;
        add_header X-Result \$iot_auth_result always;
$more    }

    location = /status {
        iot_auth_status;
    }
_EOC_
}

# user_files for p_config: the file /p ("ok") and html/creds made of the
# given lines.

sub p_files {
    return ">>> p\nok\n>>> creds\n" . join '', map { "$_\n" } @_;
}

# block_defaults for the files built on p_config: that config, dev1
# (token secret1) and dev2 (secret2) at cost 4 in html/creds, and the
# summary of the status page as the response body; %sections changes any
# of them.

my @PDevices = (
    'dev1:$2y$04$5YYkbXcUn2rZHBTWckUOS.a7locA.amKsRJNg.uuV40KxHnZCBUNq',
    'dev2:$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.',
);

sub p_defaults {
    my ($block, %sections) = @_;

    block_defaults($block,
        config => p_config(),
        user_files => p_files(@PDevices),
        response_body_filters => \&summary,
        %sections);
}

# A herd request for /p: p_req(DEVICE, TOKEN, more herd options).

sub p_req {
    my ($dev, $token, %opt) = @_;

    return { uri => '/p', %opt,
             headers => { 'X-Device-Id' => $dev,
                          'X-Device-Token' => $token } };
}

# The request headers of a device and its token, for more_headers.

sub creds {
    return "X-Device-Id: $_[0]\nX-Device-Token: $_[1]\n";
}

# A response_body_filters sub: error pages become their title, the status
# page its non-zero numbers ("hit 3", "match 1", "entries 2", ...).

sub summary {
    my ($body) = @_;

    return "$1\n" if $body =~ m{<title>(.*?)</title>};
    return $body if $body !~ /^iot_auth_/m;

    my $line = qr/^iot_auth_(\w+)\{zone="\w+"(?:,\w+="(\w+)")?\} (\d+)$/m;
    my $out = '';
    while ($body =~ /$line/g) {
        my ($metric, $label, $n) = ($1, $2, $3);
        next if $n == 0;
        $out .= ($label // $metric =~ s/^cache_|_total$//gr) . " $n\n";
    }
    return $out;
}

# Each argument is a list of requests sent at once, one list after the
# other; html/init.txt gets how many answers had each status ("200 x3").

sub herds {
    my %n;
    for my $batch (@_) {
        $n{ $_->{status} }++ for herd($batch, timeout => 20);
    }
    write_html('init.txt', join '', map { "$_ x$n{$_}\n" } sort keys %n);
}

# [device, token, herd options] is a request (for /p unless the options
# say uri => ...), a number a pause in seconds; one at a time.  The
# statuses go to html/init.txt, on one line.

sub steps {
    my @status;
    for my $step (@_) {
        if (!ref $step) {
            sleep $step;
            next;
        }
        my ($r) = herd([p_req(@$step)]);
        push @status, $r->{status};
    }
    write_html('init.txt', "@status\n");
}

# Waits until html/NAME has at least $n lines, 5 s at most (an access log
# is written after the client got its answer).

sub wait_lines {
    my ($name, $n) = @_;

    my $root = $ENV{TEST_NGINX_SERVER_ROOT} or die "no TEST_NGINX_SERVER_ROOT";

    for (1 .. 200) {
        if (open my $fh, '<', "$root/html/$name") {
            my @lines = <$fh>;
            return if @lines >= $n;
        }
        sleep 0.025;
    }
}

# Keep-alive connections grouped by the worker process that accepted
# them, for blocks that must send requests to a chosen worker: a
# connection stays in its worker for its whole life.  Opens connections
# (at most 200, 10 s) until each of $opts{workers} (default 2) workers
# holds $opts{per} of them (default 1), asking each connection which
# worker it is in with GET $opts{uri} (default /pid: a location that
# answers $pid).  Returns { pid => [ socket, ... ] }; dies if the workers
# could not all be reached.

sub pinned_conns {
    my (%opts) = @_;

    my $port = $opts{port} // $ENV{TEST_NGINX_SERVER_PORT} // 1984;
    my $workers = $opts{workers} // 2;
    my $per = $opts{per} // 1;
    my $uri = $opts{uri} // '/pid';
    my $deadline = time + 10;
    my (%by_pid, @spare);

    for (1 .. 200) {
        last if time > $deadline;

        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $port, Proto => 'tcp',
                                         Timeout => 5)
            or die "connect to 127.0.0.1:$port failed: $!";
        ka_send($sock, $uri);
        my ($status, $body) = ka_status($sock, 5);
        die "GET $uri answered $status" unless $status eq '200';
        chomp $body;

        my $list = $by_pid{$body} //= [];
        if (@$list < $per) {
            push @$list, $sock;
        } else {
            push @spare, $sock;
        }

        my @full = grep { @{ $by_pid{$_} } >= $per } keys %by_pid;
        if (@full >= $workers) {
            close $_ for @spare;
            return { map { $_ => $by_pid{$_} } @full };
        }
    }

    die "could not reach $workers workers with $per connections each";
}

# Sends GET $uri with the given headers on a keep-alive connection.

sub ka_send {
    my ($sock, $uri, %headers) = @_;

    my $hdrs = join '', map { "$_: $headers{$_}\r\n" } sort keys %headers;
    print $sock "GET $uri HTTP/1.1\r\nHost: localhost\r\n$hdrs\r\n";
    $sock->flush;
}

# Reads one response from a keep-alive connection, $timeout seconds at
# most: returns its status ('timeout' or 'closed' if none came), body and
# headers (lower-case names).  The response must carry a Content-Length,
# as nginx's error pages, empty_gif and static files do.

sub ka_status {
    my ($sock, $timeout) = @_;

    my $sel = IO::Select->new($sock);
    my $deadline = time + $timeout;
    my $buf = '';

    for ( ;; ) {
        if ($buf =~ /^(.*?)\r\n\r\n/s) {
            my $head = $1;
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            my $need = length($head) + 4 + ($len // 0);
            if (length $buf >= $need) {
                my ($status) = $head =~ m{^HTTP/1\.[01] (\d{3})};
                my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () }
                        split /\r\n/, $head;
                return ($status // 'none',
                        substr($buf, length($head) + 4, $len // 0), \%h);
            }
        }

        my $left = $deadline - time;
        return ('timeout', '', {}) if $left <= 0;
        next unless $sel->can_read($left);

        my $n = sysread $sock, my $chunk, 65536;
        return ('closed', '', {}) unless $n;
        $buf .= $chunk;
    }
}

# Sends the requests of $plan->[i] on a keep-alive connection pinned to
# the i-th worker (workers in pid order), one after the other; a request
# is [uri, device, token] ([uri] without credentials).  Returns one line
# per request: "worker I URI: STATUS RESULT" (RESULT from the X-Result
# header, '-' without one), and the body of the last response of each
# worker in $bodies->[i] when a list is given.  %opts as for
# pinned_conns (workers: how many; default: as many as $plan has).

sub by_worker {
    my ($plan, $bodies, %opts) = @_;

    my $conns = pinned_conns(workers => scalar @$plan, %opts);
    my @pids = (sort { $a <=> $b } keys %$conns)[0 .. $#$plan];
    my $out = '';

    for my $i (0 .. $#$plan) {
        my $sock = $conns->{ $pids[$i] }[0];

        for my $req (@{ $plan->[$i] }) {
            my ($uri, $dev, $token) = @$req;
            ka_send($sock, $uri, defined $dev
                                 ? ('X-Device-Id' => $dev,
                                    'X-Device-Token' => $token)
                                 : ());
            my ($status, $body, $h) = ka_status($sock, 30);
            $out .= "worker $i $uri: $status " . ($h->{'x-result'} // '-')
                    . "\n";
            $bodies->[$i] = $body if $bodies;
        }
    }

    close $_ for map { @$_ } values %$conns;

    return $out;
}

1;

package IotAuthTest;

# Helpers for the ngx_iot_auth suite that Test::Nginx::Socket has no
# section for: many concurrent clients and connections pinned to a
# worker (over HTTP/1.1 or HTTP/2, see IotAuthHTTP), requests made once in
# --- init, the error log and the nginx processes, and the preamble
# pieces the .t files share (block defaults, a backend server, request
# headers, a status page summary, blocks that cannot be repeated).  They
# work under the real Test::Nginx and under t/compat alike.  Everything
# is exported on request only.
#
# The real Test::Nginx runs `--- init` in package Test::Nginx::Util and
# `eval` sections in Test::Base's filter package: call these there by
# their full names (IotAuthTest::herd) or as main::x after importing x.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IotAuthHTTP;
use POSIX ();
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(herd herds steps replies replies_in tally http_get
                    write_html wait_lines html_lines poll
                    block_defaults p_defaults p_config p_files p_req creds
                    summary bcrypt_hash skip_unrepeatable
                    master_pid worker_pids log_file log_lines logged
                    per_worker bcrypt_owner pinned_conns ka_send ka_status
                    by_worker spawn wait_up reap fork_server);

# Sends one request per entry of $reqs, each on its own connection, and
# waits for every answer (bounded by $opts{timeout}, default 30 s).
# A request is { uri => '/p', headers => { Name => 'value' },
# delay => seconds before it is sent, abort_after => seconds after which
# the client hangs up, conn => a connection of pinned_conns to send it on
# instead of a new one, port => another port than the herd's }.
# $opts{at} = [ seconds, sub { ... } ] runs the
# sub once, that long after the start, while the herd is in flight.
# Returns a list of { status, time, end, headers, body } in request
# order; status is the HTTP code or 'aborted', 'timeout' or 'none' (closed
# without an answer), end is the time the answer completed, headers have
# lower-case names.

sub herd {
    my ($reqs, %opts) = @_;

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
            send_request(shift @unsent, $opts{port}, $sel, \%by_fd);
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
            finish($c, $sel, \%by_fd) if $c->{http}->on_readable;
        }

        sleep 0.005 unless $sel->count;
    }

    for my $c (values %by_fd) {
        finish($c, $sel, \%by_fd, 'timeout');
    }

    return map { { status => $_->{status} // 'unsent', time => $_->{time},
                   end => $_->{end}, headers => $_->{headers} // {},
                   body => $_->{body} // '' } } @conns;
}

sub send_request {
    my ($c, $port, $sel, $by_fd) = @_;

    my $req = $c->{req};
    my $http = $req->{conn} // IotAuthHTTP->new(port => $req->{port} // $port);
    $http->send($req->{uri} // '/', $req->{headers});

    $c->{http} = $http;
    $c->{start} = time;
    $c->{abort_at} = $c->{start} + $req->{abort_after}
        if defined $req->{abort_after};

    $by_fd->{ fileno $http->sock } = $c;
    $sel->add($http->sock);
}

sub finish {
    my ($c, $sel, $by_fd, $why) = @_;

    my $http = $c->{http};
    delete $by_fd->{ fileno $http->sock };
    $sel->remove($http->sock);
    $http->close if $why || !$c->{req}{conn};

    $c->{end} = time;
    $c->{time} = $c->{end} - $c->{start};
    $c->{status} = $why;
    return if $why;

    my $res = $http->response;
    @$c{qw(status headers body)} = @$res{qw(status headers body)};
}

# One GET on a new connection (HTTP/2 when the suite runs over it).
# Returns { status, headers (lower-case names), body, time }; status is
# 'none' when nothing came back within $opts{timeout} (default 10 s).

sub http_get {
    my ($uri, $headers, %opts) = @_;

    my $t0 = time;
    my $http = IotAuthHTTP->new(port => $opts{port});
    $http->send($uri, $headers);
    my $res = $http->wait($opts{timeout} // 10);
    $http->close;

    $res->{status} = 'none' if $res->{status} !~ /^\d+$/;
    $res->{time} = time - $t0;
    return $res;
}

# A bcrypt hash of $password from libcrypt (Perl's crypt), at $cost
# (default 4) with a fixed salt.

sub bcrypt_hash {
    my ($password, $cost) = @_;

    my $hash = crypt($password, sprintf '$2b$%02d$abcdefghijklmnopqrstuu',
                                $cost // 4);
    die "this libcrypt makes no bcrypt hashes"
        if !defined $hash || length $hash != 60;
    return $hash;
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

# The pid in the server root's logs/nginx.pid.

sub master_pid {
    open my $fh, '<', log_file('nginx.pid') or die "nginx.pid: $!";
    chomp(my $pid = <$fh> // '');
    close $fh;

    return $pid;
}

# The pids of nginx's worker processes: the children of $master (default
# master_pid()).

sub worker_pids {
    my ($master) = @_;

    $master //= master_pid();

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

# The path of file NAME in the server root's logs directory.

sub log_file {
    my $root = $ENV{TEST_NGINX_SERVER_ROOT} or die "no TEST_NGINX_SERVER_ROOT";

    return "$root/logs/$_[0]";
}

# The lines of $file (default the error log) that match $re.

sub log_lines {
    my ($re, $file) = @_;

    $file //= log_file('error.log');

    open my $fh, '<', $file or die "$file: $!";
    return grep { $_ =~ $re } <$fh>;
}

# Whether the error log has a line that matches $re.

sub logged {
    return scalar log_lines(@_) ? 1 : 0;
}

# How many worker processes logged a line that matches $re, and whether
# none of them logged it twice.

sub per_worker {
    my ($re) = @_;

    my %n;
    $n{$_}++ for map { /\] (\d+)#/ ? $1 : () } log_lines($re);

    return (scalar keys %n, !grep { $_ > 1 } values %n);
}

# The pid of the worker that posted the bcrypt of $device, from the
# error log (which must be at info level or finer); waits 10 s at most.

sub bcrypt_owner {
    my ($device) = @_;

    my $re = qr/\] (\d+)#\d+: .*bcrypt posted for device "\Q$device\E"/;
    my $pid;
    poll(10, sub {
        ($pid) = map { /$re/ ? $1 : () } log_lines($re);
        $pid;
    });

    return $pid;
}

# Calls $cond every 50 ms until it returns true, $secs seconds at most;
# returns its last result.

sub poll {
    my ($secs, $cond) = @_;

    my $deadline = time + $secs;
    while (time < $deadline) {
        my $res = $cond->();
        return $res if $res;
        sleep 0.05;
    }

    return $cond->();
}

# Starts @cmd in the background, its input /dev/null, its output and
# errors appended to $out; returns its pid.

sub spawn {
    my ($out, @cmd) = @_;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $out;
        open STDERR, '>&', \*STDOUT;
        { exec @cmd }
        POSIX::_exit(127);
    }

    return $pid;
}

# Waits until $ready returns true (poll, $secs seconds at most) for the
# process $pid, which spawn started; dies with $exited if the process
# ends first.  Returns whether it became ready.

sub wait_up {
    my ($pid, $secs, $ready, $exited) = @_;

    return poll($secs, sub {
        return 1 if $ready->();
        die "$exited\n" if waitpid($pid, POSIX::WNOHANG()) == $pid;
        return 0;
    });
}

# Sends $sig to the child $pid, gives it $secs seconds to end, then
# SIGKILL; reaps it.

sub reap {
    my ($pid, $sig, $secs) = @_;

    kill $sig, $pid;
    return if poll($secs, sub { waitpid($pid, POSIX::WNOHANG()) == $pid });

    kill 'KILL', $pid;
    waitpid $pid, 0;
}

# Runs $loop->($listen) in a child process, which ends when the loop
# returns; the parent closes its copy of $listen and gets the child's pid.

sub fork_server {
    my ($listen, $loop) = @_;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid) {
        close $listen;
        return $pid;
    }

    $loop->($listen);
    POSIX::_exit(0);
}

# The backend of the blocks that proxy: a server of its own, on a port of
# its own (with TEST_NGINX_USE_HTTP2 the test server's port speaks HTTP/2
# only, and proxy_pass HTTP/1.x), whose /backend answers "ok".

my $Backend = <<'_EOC_';

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location = /backend {
            return 200 "ok\n";
        }
    }
_EOC_

# For add_block_preprocessor(sub { block_defaults(shift, %sections) }):
# gives the block each section NAME => VALUE of %sections that it leaves
# out, adds the backend server to its http_config if its config proxies
# to $TEST_NGINX_RAND_PORT_1, and skips it if it cannot be repeated
# (skip_unrepeatable).  main_config and http_config default to the pool
# and the zone "iot" that most files use; pass them (undef for none) to
# change that.

sub block_defaults {
    my ($block, %sections) = @_;

    %sections = (main_config => "thread_pool iot_auth threads=2;\n",
                 http_config => "iot_auth_zone zone=iot:1m;\n",
                 %sections);

    for my $name (sort keys %sections) {
        next if !defined $sections{$name} || defined $block->$name;
        $block->set_value($name => $sections{$name});
    }

    my $config = $block->config;
    $block->set_value(http_config => ($block->http_config // '') . $Backend)
        if defined $config && $config =~ /\$TEST_NGINX_RAND_PORT_1\b/;

    skip_unrepeatable($block);
}

# For block preprocessors: with repeat_each() above 1, a block that has a
# "--- no_repeat" section (it says why the block cannot run its requests
# twice in one nginx) is skipped, with a note.

sub skip_unrepeatable {
    my ($block) = @_;

    my $why = $block->no_repeat;
    return if !defined $why || Test::Nginx::Socket::repeat_each() < 2;

    chomp $why;
    Test::More::diag($block->name . " skipped, it cannot be repeated: $why");
    $block->set_value(SKIP => 1);
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

# Like steps, one line per request in html/init.txt: its status, its
# X-Result ("-" if none) and its body as summary() puts it, so that a
# block can make its requests once, in --- init, and show them to every
# repetition (repeat_each) of its requests.  replies_in(NAME, ...) writes
# html/NAME instead.

sub replies {
    replies_in('init.txt', @_);
}

sub replies_in {
    my ($name, @steps) = @_;

    my @lines;
    for my $step (@steps) {
        if (!ref $step) {
            sleep $step;
            next;
        }
        my ($r) = herd([p_req(@$step)]);
        my $body = summary($r->{body});
        chomp $body;
        push @lines, join ' ', $r->{status},
                               $r->{headers}{'x-result'} // '-', $body;
    }
    write_html($name, join '', map { "$_\n" } @lines);
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

# The lines of html/NAME, chomped, once it has $n of them (see
# wait_lines).

sub html_lines {
    my ($name, $n) = @_;

    wait_lines($name, $n);

    my $root = $ENV{TEST_NGINX_SERVER_ROOT} or die "no TEST_NGINX_SERVER_ROOT";
    open my $fh, '<', "$root/html/$name" or die "$name: $!";
    return map { chomp; $_ } <$fh>;
}

# Keep-alive connections grouped by the worker process that accepted
# them, for blocks that must send requests to a chosen worker: a
# connection stays in its worker for its whole life.  Opens connections
# (at most 200, 10 s) until each of $opts{workers} (default 2) workers
# holds $opts{per} of them (default 1), asking each connection which
# worker it is in with GET $opts{uri} (default /pid: a location that
# answers $pid).  Returns { pid => [ connection, ... ] } (IotAuthHTTP
# objects, for ka_send and ka_status); dies if the workers could not all
# be reached.

sub pinned_conns {
    my (%opts) = @_;

    my $workers = $opts{workers} // 2;
    my $per = $opts{per} // 1;
    my $uri = $opts{uri} // '/pid';
    my $deadline = time + 10;
    my (%by_pid, @spare);

    for (1 .. 200) {
        last if time > $deadline;

        my $conn = IotAuthHTTP->new(port => $opts{port}, keepalive => 1);
        ka_send($conn, $uri);
        my ($status, $body) = ka_status($conn, 5);
        die "GET $uri answered $status" unless $status eq '200';
        chomp $body;

        my $list = $by_pid{$body} //= [];
        if (@$list < $per) {
            push @$list, $conn;
        } else {
            push @spare, $conn;
        }

        my @full = grep { @{ $by_pid{$_} } >= $per } keys %by_pid;
        if (@full >= $workers) {
            $_->close for @spare;
            return { map { $_ => $by_pid{$_} } @full };
        }
    }

    die "could not reach $workers workers with $per connections each";
}

# Sends GET $uri with the given headers on a pinned connection.

sub ka_send {
    my ($conn, $uri, %headers) = @_;

    $conn->send($uri, \%headers);
}

# Reads one response from a pinned connection, $timeout seconds at most:
# returns its status ('timeout' or 'closed' if none came), body and
# headers (lower-case names).  Over HTTP/1.1 the response must carry a
# Content-Length, as nginx's error pages, empty_gif and static files do.

sub ka_status {
    my ($conn, $timeout) = @_;

    my $res = $conn->wait($timeout);
    return ($res->{status}, $res->{body}, $res->{headers});
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
        my $conn = $conns->{ $pids[$i] }[0];

        for my $req (@{ $plan->[$i] }) {
            my ($uri, $dev, $token) = @$req;
            ka_send($conn, $uri, defined $dev
                                 ? ('X-Device-Id' => $dev,
                                    'X-Device-Token' => $token)
                                 : ());
            my ($status, $body, $h) = ka_status($conn, 30);
            $out .= "worker $i $uri: $status " . ($h->{'x-result'} // '-')
                    . "\n";
            $bodies->[$i] = $body if $bodies;
        }
    }

    $_->close for map { @$_ } values %$conns;

    return $out;
}

1;

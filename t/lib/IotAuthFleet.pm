package IotAuthFleet;

# More parts for the fleet tests, beside the nginx that Test::Nginx runs:
# other gateways (the same nginx binary and module, a generated
# nginx.conf, a free port, a prefix of their own), TCP relays that stand
# between a gateway and Redis and can be cut and mended, and
# redis-sentinel instances.  Each is started by the test itself, stopped
# by its pid, and always stopped when the test file ends.
# IOT_FLEET_KEEP=1 keeps their directories (logs, configurations).

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;

use IotAuthHTTP;
use IotAuthRedis qw(free_port);
use IotAuthTest qw(poll worker_pids log_lines spawn wait_up reap
                   fork_server);

our @EXPORT_OK = qw(gateway_start gateway_stop gateway_kill gateway_log
                    gateway_master
                    gateway_workers relay_start relay_cut relay_mend
                    sentinel_start sentinel_stop sentinel_cli);

my %Gateways;    # name => { port, dir }
my %Relays;      # name => { pid, port, target }
my %Sentinels;   # name => { pid, port, dir }

# Starts gateway NAME: an nginx with worker_processes $o{workers} (2),
# $o{http} in http{} and $o{server} in a server{} that listens on a free
# port of 127.0.0.1, which is returned, in the protocol the test server
# speaks (HTTP/1.1, or h2c: IotAuthHTTP talks to every server alike).
# Waits until it answers (5 s).

sub gateway_start {
    my ($name, %o) = @_;

    die "gateway $name is already running" if $Gateways{$name};

    my $dir = tempdir("iot-gw-$name-XXXXXX", TMPDIR => 1,
                      CLEANUP => !$ENV{IOT_FLEET_KEEP});
    my $port = free_port();
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $modules = join '', map { "load_module $_;\n" }
                           split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    my $user = $> == 0 ? 'user root;' : '';
    my $workers = $o{workers} // 2;
    my $http2 = IotAuthHTTP::h2() ? ' http2' : '';

    mkdir "$dir/$_" for qw(conf logs tmp);

    open my $fh, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $fh <<"_EOC_";
$modules
$user
daemon on;
master_process on;
worker_processes $workers;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
thread_pool iot_auth threads=2;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
$o{http}
    server {
        listen 127.0.0.1:$port$http2;
$o{server}
    }
}
_EOC_
    close $fh;

    system($bin, '-p', "$dir/", '-c', "$dir/conf/nginx.conf") == 0
        or die "gateway $name did not start, see $dir/logs/error.log";

    $Gateways{$name} = { port => $port, dir => $dir };

    return $port if poll(5, sub { listening($port) });

    gateway_stop($name);
    die "gateway $name does not listen on port $port";
}

sub listening {
    my ($port) = @_;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp')
        or return 0;
    close $sock;

    return 1;
}

sub master_pid {
    my ($gw) = @_;

    open my $fh, '<', "$gw->{dir}/logs/nginx.pid" or return;
    my $pid = <$fh>;
    close $fh;

    return $pid && $pid =~ /^(\d+)/ ? $1 : undef;
}

# The master pid of gateway NAME; undef once it has stopped.

sub gateway_master {
    my ($name) = @_;

    my $gw = $Gateways{$name} or die "no gateway $name";

    return master_pid($gw);
}

# The worker pids of gateway NAME.

sub gateway_workers {
    my ($name) = @_;

    my $gw = $Gateways{$name} or die "no gateway $name";
    my $master = master_pid($gw) or return;

    return worker_pids($master);
}

# The lines of gateway NAME's error log that match $re.

sub gateway_log {
    my ($name, $re) = @_;

    my $gw = $Gateways{$name} or die "no gateway $name";

    return log_lines($re, "$gw->{dir}/logs/error.log");
}

sub gone {
    my ($pid) = @_;

    return 1 unless kill 0, $pid;

    open my $s, '<', "/proc/$pid/stat" or return 1;
    my $l = <$s> // '';
    close $s;

    return $l =~ /^\d+ \(.*?\) Z/;    # a zombie until init reaps it
}

# Stops gateway NAME gracefully (QUIT; KILL after 5 s).

sub gateway_stop {
    my ($name) = @_;

    my $gw = delete $Gateways{$name} or return;
    my $master = master_pid($gw) or return;
    my @workers = worker_pids($master);

    kill 'QUIT', $master;
    return if poll(5, sub { !grep { !gone($_) } $master, @workers });

    kill 'KILL', $master, @workers;
}

# Kills gateway NAME's master and workers at once (SIGKILL): a gateway
# that dies.

sub gateway_kill {
    my ($name) = @_;

    my $gw = delete $Gateways{$name} or return;
    my $master = master_pid($gw) or return;

    kill 'KILL', $master, worker_pids($master);
}

# A TCP relay NAME on a free port (returned) to 127.0.0.1:$target.

sub relay_start {
    my ($name, $target) = @_;

    my $port = free_port();
    $Relays{$name} = { port => $port, target => $target };
    relay_mend($name);

    return $port;
}

# Cuts relay NAME: every connection through it is closed, new ones are
# refused, until relay_mend.

sub relay_cut {
    my ($name) = @_;

    my $r = $Relays{$name} or die "no relay $name";
    my $pid = delete $r->{pid} or return;

    reap($pid, 'KILL', 5);
}

sub relay_mend {
    my ($name) = @_;

    my $r = $Relays{$name} or die "no relay $name";
    return if $r->{pid};

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => $r->{port},
                                       Listen => 64, ReuseAddr => 1,
                                       Proto => 'tcp')
        or die "relay $name on port $r->{port}: $!";

    $r->{pid} = fork_server($listen, sub { relay_loop($_[0], $r->{target}) });
}

sub relay_loop {
    my ($listen, $target) = @_;

    my $sel = IO::Select->new($listen);
    my %peer;

    for ( ;; ) {
        for my $s ($sel->can_read(1)) {
            if ($s == $listen) {
                my $c = $listen->accept or next;
                my $t = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $target,
                                              Proto => 'tcp');
                if (!$t) {
                    close $c;
                    next;
                }
                $peer{ fileno $c } = $t;
                $peer{ fileno $t } = $c;
                $sel->add($c, $t);
                next;
            }

            my $other = $peer{ fileno $s } or next;
            my $n = sysread $s, my $buf, 65536;

            if (!$n) {
                delete $peer{ fileno $s };
                delete $peer{ fileno $other };
                $sel->remove($s, $other);
                close $s;
                close $other;
                next;
            }

            syswrite $other, $buf;
        }
    }
}

# Starts redis-sentinel NAME on port $o{port}, watching the master
# $o{master} (a name) at 127.0.0.1:$o{master_port}, with a quorum of 1
# and $o{down_after} ms (500) before it calls the master down.  Waits
# until it answers (5 s).

sub sentinel_start {
    my ($name, %o) = @_;

    my $dir = tempdir("iot-sentinel-$name-XXXXXX", TMPDIR => 1,
                      CLEANUP => !$ENV{IOT_FLEET_KEEP});
    my $down = $o{down_after} // 500;

    open my $fh, '>', "$dir/sentinel.conf" or die "sentinel.conf: $!";
    print $fh <<"_EOC_";
port $o{port}
bind 127.0.0.1
daemonize no
dir $dir
logfile $dir/sentinel.log
sentinel monitor $o{master} 127.0.0.1 $o{master_port} 1
sentinel down-after-milliseconds $o{master} $down
sentinel failover-timeout $o{master} 2000
sentinel parallel-syncs $o{master} 1
_EOC_
    close $fh;

    my $pid = spawn("$dir/sentinel.out",
                    'redis-sentinel', "$dir/sentinel.conf");

    $Sentinels{$name} = { pid => $pid, port => $o{port}, dir => $dir };

    return $pid if wait_up($pid, 5, sub { listening($o{port}) },
                           "redis-sentinel $name exited, see "
                           . "$dir/sentinel.out");

    sentinel_stop($name);
    die "redis-sentinel $name does not answer on port $o{port}";
}

# Runs one redis-cli command against sentinel NAME; its output, chomped.

sub sentinel_cli {
    my ($name, @cmd) = @_;

    my $s = $Sentinels{$name} or die "no sentinel $name";

    open my $fh, '-|', 'redis-cli', '-h', '127.0.0.1', '-p', $s->{port}, @cmd
        or die "redis-cli: $!";

    my $out = do { local $/; <$fh> } // '';
    close $fh;

    $out =~ s/\n\z//;
    return $out;
}

sub sentinel_stop {
    my ($name) = @_;

    my $s = delete $Sentinels{$name} or return;

    reap($s->{pid}, 'KILL', 5);
}

END {
    local $?;
    gateway_stop($_) for keys %Gateways;
    relay_cut($_) for keys %Relays;
    sentinel_stop($_) for keys %Sentinels;
}

1;

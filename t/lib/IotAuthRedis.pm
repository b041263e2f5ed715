package IotAuthRedis;

# redis-server instances for the Redis tests: started by the test file
# itself on free ports, stopped (and restarted, frozen, killed) on
# demand, always killed when the test file ends.  Plus redis-cli, and a
# fake Redis that sends any reply.
# IOT_REDIS_KEEP=1 keeps their directories (redis.log, redis.out).

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use IotAuthTest qw(http_get spawn wait_up reap fork_server);
use Time::HiRes qw(time sleep);

# http_get is IotAuthTest's, exported here too for the files that take
# it from here with the Redis helpers
our @EXPORT_OK = qw(free_port redis_start redis_stop redis_signal redis_cli
                    fake_redis_start hmget_calls redis_clients http_get);

my %Servers;    # name => { pid, args, port, dir }

# A TCP port of 127.0.0.1 that nobody listens on right now.

sub free_port {
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                     Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    my $port = $sock->sockport;
    close $sock;
    return $port;
}

# Starts redis-server NAME: port => N (required), socket => PATH,
# password => P.  Waits until it answers PING (5 s at most).  Starting a
# stopped NAME again with no options reuses its options (same port and
# socket, empty data).

sub redis_start {
    my ($name, %o) = @_;

    my $srv = $Servers{$name};
    if (%o || !$srv) {
        my $dir = $srv ? $srv->{dir}
                       : tempdir('iot-redis-XXXXXX', TMPDIR => 1,
                                 CLEANUP => !$ENV{IOT_REDIS_KEEP});
        my @args = ('--port', $o{port}, '--bind', '127.0.0.1',
                    '--save', '', '--appendonly', 'no', '--daemonize', 'no',
                    '--dir', $dir, '--logfile', "$dir/redis.log");
        push @args, '--unixsocket', $o{socket}, '--unixsocketperm', '777'
            if $o{socket};
        push @args, '--requirepass', $o{password} if $o{password};
        $srv = $Servers{$name} = { args => \@args, port => $o{port},
                                   password => $o{password}, dir => $dir };
    }

    die "redis $name is already running" if $srv->{pid};

    my $pid = $srv->{pid} = spawn("$srv->{dir}/redis.out",
                                  'redis-server', @{ $srv->{args} });

    return $pid if wait_up($pid, 5, sub { redis_ping($srv) },
                           "redis-server $name exited, see "
                           . "$srv->{dir}/redis.out");

    redis_stop($name);
    die "redis-server $name does not answer on port $srv->{port}";
}

# A fake Redis NAME on port PORT that answers "HMGET key ..." with
# $replies->{key} (raw RESP, any bytes), or three nils when the key is not
# there; PING gets +PONG, anything else +OK.  $replies may instead be a
# sub, given each command's arguments: its raw RESP answers the command,
# undef leaves it to the rules above.  Commands may be pipelined.
# Stopped like a real one.

sub fake_redis_start {
    my ($name, $port, $replies) = @_;

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => $port, Listen => 64,
                                       ReuseAddr => 1, Proto => 'tcp')
        or die "fake redis on port $port: $!";

    my $pid = fork_server($listen, sub { fake_redis_loop($_[0], $replies) });
    $Servers{$name} = { pid => $pid, port => $port, fake => 1 };

    return $pid;
}

sub fake_redis_loop {
    my ($listen, $replies) = @_;

    my $sel = IO::Select->new($listen);
    my %buf;

    for ( ;; ) {
        for my $s ($sel->can_read(1)) {
            if ($s == $listen) {
                my $c = $listen->accept or next;
                $sel->add($c);
                $buf{ fileno $c } = '';
                next;
            }

            my $n = sysread $s, my $chunk, 65536;
            if (!$n) {
                delete $buf{ fileno $s };
                $sel->remove($s);
                close $s;
                next;
            }

            my $b = \$buf{ fileno $s };
            $$b .= $chunk;

            while (my $cmd = take_command($b)) {
                my $verb = uc($cmd->[0] // '');
                my $out = ref $replies eq 'CODE' ? $replies->($cmd) : undef;
                my $map = ref $replies eq 'HASH' ? $replies : {};
                $out //= $verb eq 'PING' ? "+PONG\r\n"
                       : $verb ne 'HMGET' ? "+OK\r\n"
                       : $map->{ $cmd->[1] // '' }
                         // "*3\r\n\$-1\r\n\$-1\r\n\$-1\r\n";
                syswrite $s, $out;
            }
        }
    }
}

# one command off the front of a client's buffer, or undef if incomplete

sub take_command {
    my ($b) = @_;

    return undef unless $$b =~ /\A\*(\d+)\r\n/;
    my ($argc, $pos) = ($1, length $&);

    my @argv;
    for (1 .. $argc) {
        return undef
            unless substr($$b, $pos) =~ /\A\$(\d+)\r\n/;
        my $len = $1;
        $pos += length $&;
        return undef if length($$b) < $pos + $len + 2;
        push @argv, substr($$b, $pos, $len);
        $pos += $len + 2;
    }

    substr($$b, 0, $pos) = '';
    return \@argv;
}

# PING (after AUTH when it has a password) on a connection of its own

sub redis_ping {
    my ($srv) = @_;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $srv->{port},
                                     Proto => 'tcp', Timeout => 1)
        or return 0;

    my $auth = $srv->{password}
               ? sprintf("*2\r\n\$4\r\nAUTH\r\n\$%d\r\n%s\r\n",
                         length $srv->{password}, $srv->{password})
               : '';
    print $sock "$auth*1\r\n\$4\r\nPING\r\n";

    my $buf = '';
    my $sel = IO::Select->new($sock);
    my $deadline = time + 1;
    while ($buf !~ /\+PONG\r\n/ && time < $deadline) {
        next unless $sel->can_read(0.05);
        last unless sysread $sock, $buf, 512, length $buf;
    }
    close $sock;

    return $buf =~ /\+PONG\r\n/ ? 1 : 0;
}

# Kills redis-server NAME (SIGKILL unless told) and reaps it.

sub redis_stop {
    my ($name, $sig) = @_;

    my $srv = $Servers{$name} or return;
    my $pid = delete $srv->{pid} or return;

    kill 'CONT', $pid;
    reap($pid, $sig // 'KILL', 5);
}

# Sends a signal (STOP, CONT) to redis-server NAME.

sub redis_signal {
    my ($name, $sig) = @_;

    my $pid = $Servers{$name}{pid} or die "redis $name is not running";
    kill $sig, $pid or die "kill $sig $pid: $!";
}

# Runs one redis-cli command against NAME; returns its output, chomped.

sub redis_cli {
    my ($name, @cmd) = @_;

    my $srv = $Servers{$name} or die "no redis $name";
    my @auth = $srv->{password}
               ? ('--no-auth-warning', '-a', $srv->{password}) : ();

    open my $fh, '-|', 'redis-cli', '-h', '127.0.0.1', '-p', $srv->{port},
         @auth, @cmd
        or die "redis-cli: $!";

    my $out = do { local $/; <$fh> } // '';
    close $fh;

    $out =~ s/\n\z//;
    return $out;
}

# How many HMGET commands redis-server NAME ran since its statistics
# were last reset (CONFIG RESETSTAT).

sub hmget_calls {
    my ($name) = @_;

    my $info = redis_cli($name, 'INFO', 'commandstats');
    return $info =~ /^cmdstat_hmget:calls=(\d+)/m ? $1 : 0;
}

# The clients of redis-server NAME other than redis-cli, once they number
# $want (2 s at most).

sub redis_clients {
    my ($name, $want) = @_;

    my $n;
    IotAuthTest::poll(2, sub {
        $n = grep { /^id=/ } split /\n/, redis_cli($name, 'CLIENT', 'LIST');
        --$n == $want;
    });
    return $n;
}

END {
    local $?;
    redis_stop($_) for keys %Servers;
}

1;

package Test::Nginx::Compat::Server;

# The nginx side of the compat Test::Nginx::Socket: server root layout,
# nginx.conf generation, and starting, reloading and stopping nginx with
# every wait bounded.  Methods return an error string (or die) instead of
# bailing out; the caller decides what a failure means for the test plan.

use strict;
use warnings;

use File::Find ();
use File::Glob qw(bsd_glob);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $INDEX_HTML = '<html><head><title>It works!</title></head>'
                 . '<body>It works!</body></html>';

my @ENV_HEAD = qw(
    MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN LD_PRELOAD
    LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES DYLD_FORCE_FLAT_NAMESPACE
);
my @ENV_TAIL = qw(ASAN_OPTIONS MOCKNOEAGAIN_VERBOSE MOCKNOEAGAIN);
my @TEMP_PATHS = qw(client_body proxy fastcgi scgi uwsgi);


sub new {
    my ($class, %arg) = @_;

    my $root = $arg{root};
    return bless {
        binary   => $arg{binary},
        sleep    => $arg{sleep} || 0.015,
        verbose  => $arg{verbose},
        root     => $root,
        conf_dir => "$root/conf",
        conf     => "$root/conf/nginx.conf",
        html_dir => "$root/html",
        log_dir  => "$root/logs",
        err_log  => "$root/logs/error.log",
        acc_log  => "$root/logs/access.log",
        pid_file => "$root/logs/nginx.pid",
        child    => undef,  # pid of an nginx we forked ourselves (valgrind)
        use_e    => 1,      # nginx >= 1.19.5 understands -e
    }, $class;
}


sub has_child { defined $_[0]{child} }

sub use_error_log_option { $_[0]{use_e} = $_[1] }


sub note {
    my ($self, $msg) = @_;

    warn sprintf("%.3f %s\n", time, $msg) if $self->{verbose};
}


# Clears what the previous block left.  In HUP mode the running nginx keeps
# its pid file (and sockets, certificates) and the directories it holds.
sub setup_root {
    my ($self, %o) = @_;

    my $root = $self->{root};
    if (-d $root) {
        remove_tree($self->{conf_dir}, bsd_glob("$root/*_cache"),
                    bsd_glob("$root/*_temp"));

        if ($o{hup}) {
            $self->remove_files_keep_runtime($o{first});

        } else {
            remove_tree($self->{html_dir}, $self->{log_dir});
            rmdir $root or return "Can't remove $root (not empty?): $!";
        }
    }

    for my $dir ($root, @$self{qw(log_dir html_dir conf_dir)}) {
        next if -d $dir;
        mkdir $dir or return "Failed to do mkdir $dir: $!";
    }

    return $self->write_file("$self->{html_dir}/index.html", $INDEX_HTML);
}


sub remove_files_keep_runtime {
    my ($self, $first) = @_;

    File::Find::find({ no_chdir => 1, wanted => sub {
        return if -d $_;
        return if m{/valgrind\.log[^/]*$};
        return if !$first && /(?:\bnginx\.pid|\.sock|\.crt|\.key)$/;
        unlink $_ or warn "Failed to remove $_: $!\n";
    } }, $self->{root});
}


sub write_file {
    my ($self, $path, $data) = @_;

    open my $out, '>', $path or return "Can't open $path for writing: $!";
    binmode $out;
    print {$out} $data;
    close $out or return "Can't write $path: $!";
    return;
}


# $files: [[name, body, date], ...]; relative names go under html/.
sub write_user_files {
    my ($self, $files) = @_;

    for my $f (@$files) {
        my ($name, $body, $date) = @$f;
        my $path = $name =~ m{^/} ? $name : "$self->{html_dir}/$name";

        my ($dir) = $path =~ m{^(.*)/};
        if (defined $dir && !-d $dir) {
            make_path($dir) or return "Cannot create directory $dir";
        }

        my $err = $self->write_file($path, defined $body ? $body : '');
        return $err if $err;

        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or return "Failed to run: touch -t '$date' $path";
        }
    }
    return;
}


sub write_config {
    my ($self, %p) = @_;

    return $self->write_file($self->{conf}, $self->render_config(%p));
}


# Same directives in the same order as the real framework's nginx.conf
# (line numbers in nginx's messages may still differ).
sub render_config {
    my ($self, %p) = @_;

    my $sr = $self->{root};
    my $http_config = defined $p{http_config} ? $p{http_config} : '';
    my $main_config = defined $p{main_config} ? $p{main_config} : '';

    my $conf = "worker_processes  $p{workers};\n"
        . "daemon $p{daemon};\n"
        . "master_process $p{master};\n"
        . "error_log $p{error_log_file} $p{log_level};\n"
        . "pid       $self->{pid_file};\n"
        . join('', map { "env $_;\n" } @ENV_HEAD)
        . join('', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @{ $p{env} })
        . "\n$main_config\n\n"
        . "http {\n"
        . "    access_log $self->{acc_log};\n";

    for my $t (@TEMP_PATHS) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        $conf .= "    ${t}_temp_path $sr/${t}_temp;\n";
    }

    # HTTP/2: "listen ... http2" up to nginx 1.25.0, "http2 on" since 1.25.1
    my $listen = ($p{http2} // '') eq 'listen' ? ' http2' : '';
    $listen .= ";\n        http2 on" if ($p{http2} // '') eq 'directive';

    (my $server_name = $p{server_name}) =~ s/(['\\])/\\$1/g;
    $conf .= "\n    default_type text/plain;\n"
        . "    keepalive_timeout  68000ms;\n\n"
        . "$http_config\n\n"
        . "    server {\n"
        . "        listen          $p{port}$listen;\n"
        . "        server_name     '$server_name';\n\n"
        . "        client_max_body_size 30M;\n\n"
        . "        # Begin preamble config...\n"
        . "$p{preamble}\n"
        . "        # End preamble config...\n\n"
        . "        # Begin test case config...\n"
        . (defined $p{config} ? $p{config} : '') . "\n"
        . "        # End test case config.\n\n";

    if ($p{root_location}) {
        $conf .= "        location / {\n"
            . "            root $self->{html_dir};\n"
            . "            index index.html index.htm;\n"
            . "        }\n";
    }
    $conf .= "    }\n";

    if (defined $p{hup_version}) {
        $conf .= "    server {\n"
            . "        listen          $p{port}$listen;\n"
            . "        server_name     'Test-Nginx';\n\n"
            . "        location = /ver {\n"
            . "            return 200 '$p{hup_version}';\n"
            . "        }\n"
            . "    }\n";
    }

    $conf .= "}\n\n"
        . (defined $p{post_main_config} ? $p{post_main_config} : '') . "\n\n"
        . "events {\n"
        . "    accept_mutex off;\n\n"
        . "    worker_connections  $p{worker_connections};\n"
        . ($p{event_type} ? "    use $p{event_type};\n" : '')
        . "}\n"
        . join('', map { "env $_;\n" } @ENV_TAIL);

    $conf .= "user $p{user};\n" if defined $p{user};
    return $conf;
}


sub command {
    my ($self) = @_;

    my @cmd = (split(' ', $self->{binary}), '-p', "$self->{root}/",
               '-c', $self->{conf});
    push @cmd, '-e', $self->{err_log} if $self->{use_e};
    return @cmd;
}


sub read_pid {
    my ($self) = @_;

    open my $in, '<', $self->{pid_file} or return undef;
    my $pid = <$in>;
    close $in;
    return undef if !defined $pid;
    chomp $pid;
    return $pid =~ /^\d+$/ ? $pid : undef;
}


sub is_running {
    my ($self, $pid) = @_;

    return 0 if !$pid;
    if ($self->{child} && $pid == $self->{child}) {
        return 0 if waitpid($pid, WNOHANG) == $pid;
    }
    return 0 if !kill 0, $pid;

    # a daemonized nginx that exited stays a zombie until init reaps it,
    # which can take seconds in containers
    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st> // '';
        return 0 if $line =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}


# Runs nginx in daemon mode and waits (at most $limit seconds) for the
# launcher process.  Returns the wait status, or undef if it hung.
sub run_daemon {
    my ($self, $limit) = @_;

    my @cmd = $self->command;
    $self->note("running: @cmd");

    my $pid = fork;
    return -1 if !defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        { exec { $cmd[0] } @cmd }
        POSIX::_exit(127);
    }

    my $deadline = time + $limit;
    while (time < $deadline) {
        return $? if waitpid($pid, WNOHANG) == $pid;
        sleep 0.01;
    }

    kill 'KILL', $pid;
    waitpid $pid, 0;
    return undef;
}


# Starts "valgrind ... nginx" in the foreground (daemon off) as our child
# in its own process group; the valgrind report goes to logs/.
sub start_valgrind {
    my ($self, $opts) = @_;

    my @vg = ('valgrind', '-q', "--log-file=$self->{log_dir}/valgrind.log.%p");
    if ($opts =~ /^\d+$/) {
        push @vg, qw(--tool=memcheck --leak-check=full --keep-debuginfo=yes
                     --show-possibly-lost=no --gen-suppressions=all);
        push @vg, '--suppressions=valgrind.suppress' if -f 'valgrind.suppress';

    } else {
        push @vg, split ' ', $opts;
    }

    my @cmd = (@vg, $self->command);
    $self->note("running: @cmd");

    my $pid = fork;
    return "fork() failed: $!" if !defined $pid;
    if ($pid == 0) {
        setpgrp;
        open STDOUT, '>', '/dev/null';
        { exec { $cmd[0] } @cmd }
        POSIX::_exit(127);
    }

    $self->{child} = $pid;
    return;
}


sub child_exited {
    my ($self) = @_;

    my $pid = $self->{child} or return 0;
    return 0 if waitpid($pid, WNOHANG) != $pid;
    undef $self->{child};
    return 1;
}


sub wait_pid_file {
    my ($self, $limit) = @_;

    my $deadline = time + $limit;
    while (time < $deadline) {
        return 1 if $self->read_pid;
        sleep 0.005;
    }
    return 0;
}


sub wait_port {
    my ($self, $addr, $port, $limit) = @_;

    my $deadline = time + $limit;
    while (time < $deadline) {
        return 0 if $self->child_exited;
        my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1);
        if ($s) {
            close $s;
            return 1;
        }
        sleep 0.1;
    }
    return 0;
}


# Graceful stop: QUIT, wait up to $wait seconds, then TERM and finally KILL
# (the whole process group for a child we started).  Never blocks longer
# than about $wait + 2 seconds.
sub stop {
    my ($self, $wait, $name) = @_;

    my $pid = $self->read_pid || $self->{child};
    if (!$pid) {
        unlink $self->{pid_file};
        return;
    }

    for my $step (['QUIT', $wait], ['TERM', 1], ['KILL', 1]) {
        my ($sig, $limit) = @$step;
        last if !$self->is_running($pid);

        warn "$name - WARNING: sending $sig to nginx $pid\n"
            if $sig ne 'QUIT';
        $self->note("sending $sig to $pid");
        # nginx (daemon or our valgrind child) leads its own process
        # group, so KILL takes the workers down with the master
        my $group = getpgrp($pid);
        kill $sig, $sig eq 'KILL' && $group == $pid ? -$pid : $pid;

        my $deadline = time + $limit;
        while ($self->is_running($pid) && time < $deadline) {
            sleep 0.01;
        }
    }

    undef $self->{child} if $self->{child} && !$self->is_running($pid);
    unlink $self->{pid_file};
}


sub worker_pids {
    my ($self, $master) = @_;

    my @pids;
    for my $stat (bsd_glob('/proc/[0-9]*/stat')) {
        open my $in, '<', $stat or next;
        my $line = <$in> // '';
        next if $line !~ /^(\d+) \(.*\) \S+ (\d+) /s || $2 != $master;
        my $pid = $1;
        push @pids, $pid if $self->proc_title($pid) =~ /worker process/;
    }
    return @pids;
}


sub proc_title {
    my ($self, $pid) = @_;

    open my $in, '<', "/proc/$pid/cmdline" or return '';
    local $/;
    my $title = <$in> // '';
    $title =~ tr/\0/ /;
    return $title;
}


# After a reload the old workers get QUIT; an old worker stops accepting
# when it switches its title to "is shutting down", right before closing
# its listening sockets.  Returns false if some old worker still serves.
sub wait_workers_retired {
    my ($self, $pids, $limit) = @_;

    my $deadline = time + $limit;
    while (1) {
        my @busy = grep {
            $self->is_running($_)
            && $self->proc_title($_) !~ /shutting down/
        } @$pids;
        return 1 if !@busy;
        return 0 if time >= $deadline;
        sleep 0.01;
    }
}


sub reload_signals {
    my ($self, $pid) = @_;

    $self->note("sending USR1 and HUP to $pid");
    kill 'USR1', $pid or return "Failed to send USR1 to $pid: $!";
    sleep $self->{sleep};
    kill 'HUP', $pid or return "Failed to send HUP to $pid: $!";
    sleep $self->{sleep} * 3;
    return;
}


# Returns (and removes) whatever valgrind wrote since the last call.
sub take_valgrind_report {
    my ($self) = @_;

    my $report = '';
    for my $file (sort(bsd_glob("$self->{log_dir}/valgrind.log.*"))) {
        if (open my $in, '<', $file) {
            local $/;
            my $text = <$in>;
            $report .= $text if defined $text;
        }
        unlink $file;
    }
    return $report =~ /\S/ ? $report : '';
}


sub free_port {
    my ($class, $addr, $used) = @_;

    for (1 .. 1000) {
        my $port = 1985 + int rand 63550;
        next if $used->{$port};
        my $s = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port,
                                      Proto => 'tcp', ReuseAddr => 0);
        next if !$s;
        close $s;
        return $port;
    }
    return undef;
}


1;

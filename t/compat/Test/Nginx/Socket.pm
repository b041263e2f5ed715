package Test::Nginx::Socket;

# A small stand-in for openresty's Test::Nginx::Socket (CPAN Test-Nginx),
# used only when the real one is not installed.  It runs the same .t files
# with the same subtest counts; see t/compat/README.md for the subset.

use strict;
use warnings;

use Carp ();
use File::Path qw(remove_tree);
use File::Spec ();
use List::Util qw(max min shuffle);
use Scalar::Util qw(looks_like_number);
use Test::Base ();
use Test::More ();
use Time::HiRes qw(sleep time);

use Test::Nginx::Compat::Client qw(
    build_requests connect_once exchange exchange_h2 header_value http_get
    parse_response
);
use Test::Nginx::Compat::Server;

# Inherit Test::Base's import(): it exports our @EXPORT plus Test::Base's
# (plan, blocks, is, like, ...), handles "use ... 'no_plan'" and adds
# "use strict; use warnings" to the .t file.  No "-Base" here, so no Spiffy
# source filter rewrites our subs.
our @ISA = ('Test::Base');

our $VERSION = '0.01';
our $COMPAT = 1;    # lets a .t or a Makefile tell this module from the real

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle no_long_string master_on
    master_off master_process_enabled workers log_level env_to_nginx
    worker_connections no_root_location config_preamble timeout use_hup
    check_accum_error_log add_block_preprocessor add_cleanup_handler
    add_response_body_check bail_out is_str html_dir server_root server_port
    server_port_for_client server_addr server_name
);

our $RepeatEach = 1;
our $NoShuffle = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString;
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $Workers = 1;
our $WorkerConnections = 64;
our $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our @EnvToNginx;
our $NoRootLocation = 0;
our $ConfigPreamble = '';
our $Timeout = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $UseHup = $ENV{TEST_NGINX_USE_HUP};
our $UseHttp2 = $ENV{TEST_NGINX_USE_HTTP2};
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Verbose = $ENV{TEST_NGINX_VERBOSE};
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NginxBinary = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Randomize = $ENV{TEST_NGINX_RANDOMIZE};
our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';
our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion);
our (@BlockPreprocessors, @CleanupHandlers, @ResponseBodyChecks);

our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                  || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;

if ($Randomize) {
    $ServerPort = Test::Nginx::Compat::Server->free_port($ServerAddr, {})
        or Test::More::BAIL_OUT('Cannot find an available listening port');
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize ? File::Spec->rel2abs("t/servroot_$ServerPort")
              : $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $HtmlDir = "$ServRoot/html";
our $LogDir = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile = "$LogDir/nginx.pid";
our $ConfFile = "$ServRoot/conf/nginx.conf";

# Some .t files read these through the real module's helper package.
for my $var (qw(ServerPort ServerPortForClient ServRoot HtmlDir LogDir
                ErrLogFile AccLogFile PidFile ConfFile RepeatEach NginxBinary
                NginxVersion NoLongString ServerAddr ServerName))
{
    no strict 'refs';
    *{"Test::Nginx::Util::$var"} = \${"Test::Nginx::Socket::$var"};
}

my $Server = Test::Nginx::Compat::Server->new(
    root    => $ServRoot,
    binary  => $NginxBinary,
    sleep   => $TestNginxSleep,
    verbose => $Verbose,
);

my $MainPid = $$;

# Ctrl-C, kill, or prove going away (SIGPIPE) must still run END below so
# nginx is stopped; a randomized server root is otherwise never found again.
for my $sig (qw(INT TERM PIPE)) {
    next if $SIG{$sig} && $SIG{$sig} ne 'DEFAULT';
    $SIG{$sig} = sub {
        $SIG{PIPE} = 'IGNORE';
        warn "$0: caught SIG$sig, stopping nginx\n" if $sig ne 'PIPE';
        exit 1;
    };
}

my $FirstTime = 1;
my $PrevConfig;
my $ConfigVersion;
my $ErrLogPos = 0;
my $ConnectFailures = 0;
my $Http2Listen;    # whether the running nginx's port speaks HTTP/2
my $CleanedUp = 0;


sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub no_shuffle () { $NoShuffle = 1 }

sub no_long_string () { $NoLongString = 1 }

sub master_on () { $MasterProcessEnabled = 'on' }

sub master_off () { $MasterProcessEnabled = 'off' }

sub master_process_enabled (@) {
    return $MasterProcessEnabled if !@_;
    $MasterProcessEnabled = shift() ? 'on' : 'off';
}

sub workers (@) {
    return $Workers if !@_;
    $Workers = shift;
}

sub log_level (@) {
    return $LogLevel if !@_;
    $LogLevel = shift;
}

sub worker_connections (@) {
    return $WorkerConnections if !@_;
    $WorkerConnections = shift;
}

sub timeout (@) {
    return $Timeout if !@_;
    $Timeout = shift;
}

sub server_addr (@) {
    return $ServerAddr if !@_;
    $ServerAddr = shift;
}

sub server_name (@) {
    return $ServerName if !@_;
    $ServerName = shift;
}

sub server_port (@) {
    return $ServerPort if !@_;
    $ServerPort = shift;
}

sub server_port_for_client (@) {
    return $ServerPortForClient if !@_;
    $ServerPortForClient = shift;
}

sub no_root_location () { $NoRootLocation = 1 }

sub config_preamble ($) { $ConfigPreamble = shift }

sub use_hup () { $UseHup = 1 }

sub check_accum_error_log () { $CheckAccumErrLog = 1 }

sub html_dir () { $HtmlDir }

sub server_root () { $ServRoot }

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }


sub env_to_nginx (@) {
    Carp::croak('env_to_nginx: no arguments specified') if !@_;
    for my $v (@_) {
        Carp::croak("env_to_nginx: bad argument value: $v")
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}


sub is_str (@) {
    my ($got, $expected, $desc) = @_;

    return Test::More::like($got, $expected, $desc)
        if ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc);
}


sub bail_out (@) {
    run_cleanup_handlers();
    Test::More::BAIL_OUT(join '', @_);
}


sub run_tests () {
    init_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        if !defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks if !$NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
    }

    run_cleanup_handlers();
}


sub run_test ($) {
    my ($block) = @_;

    return if defined $block->SKIP;

    my $name = $block->name;
    my $first = $FirstTime;
    $FirstTime = 0;

    my %ports;
    my $config = expand_env(section($block, 'config'), $name, \%ports);
    my $must_die = $block->must_die;

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseHup = defined $must_die ? undef : $UseHup;
    local $UseValgrind = defined $must_die ? undef : $UseValgrind;

    my $skip = skip_spec($block);
    my $todo = todo_spec($block);

    if (!defined $config) {
        bail_out("$name - No '--- config' section specified and could not "
                 . 'get previous one') if !defined $PrevConfig;

    } elsif (!$skip) {
        $PrevConfig = $config;
        if (defined $must_die) {
            return run_must_die($block, $config, \%ports, $first);
        }
        prepare_nginx($block, $config, \%ports, $first);
    }

    run_perl_section($block, 'init');

    $ErrLogPos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        write_user_files($block, \%ports) if $i > 0;

        if ($skip) {
            SKIP: { Test::More::skip("$name - $skip->{reason}", $skip->{n}) }

        } elsif ($todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo->{reason}", $todo->{n});
            }

        } else {
            run_requests($block, $i, \%ports);
        }
    }

    append_error_log($name);
    stop_nginx($name) if $UseValgrind && !$UseHup;
}


# --- init and --- post_setup_server_root hold Perl code run in main.
sub run_perl_section {
    my ($block, $key) = @_;

    my $code = section($block, $key) or return;
    eval "package main; $code; 1"
        or bail_out($block->name . " - $key failed: $@");
}


# Returns { n, reason } when the block's subtests must be skipped.
sub skip_spec {
    my ($block) = @_;

    my $name = $block->name;
    my ($n, $reason, $skip);

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($n, $reason) = ($1, 'skip_eval');
            $skip = eval "package main; $2";
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$2\": $@") if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $n = $1;
        $reason = $6 || "nginx version $2 $3.$4.$5";
        $skip = 1 if version_cmp($NginxVersion, $2,
                                 canon_version($3, $4, $5));

    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        $spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(or|and)
                   \s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $n = $1;
        $reason = $11;
        my $a = version_cmp($NginxVersion, $2, canon_version($3, $4, $5));
        my $b = version_cmp($NginxVersion, $7, canon_version($8, $9, $10));
        $skip = 1 if $6 eq 'or' ? ($a || $b) : ($a && $b);
    }

    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $n = $1;
        $reason = $7 || (defined $OpenSSLVersion
                         ? "OpenSSL version $2 $3.$4.$5" . ($6 // '')
                         : 'Not built with OpenSSL');
        $skip = 1 if !defined $OpenSSLVersion
                     || version_cmp($OpenSSLVersion, $2,
                                    canon_version($3, $4, $5, $6));
    }

    return undef if !$skip || !defined $n;
    return { n => $n, reason => $reason || 'various reasons' };
}


sub todo_spec {
    my ($block) = @_;

    my $spec = $block->todo;
    return undef if !defined $spec;

    $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
        or bail_out($block->name . " - Invalid --- todo spec: $spec");
    return { n => $1, reason => $2 || 'various reasons' };
}


sub canon_version {
    my ($maj, $min, $patch, $letter) = @_;

    my $v = sprintf '%d.%03d%03d', $maj, $min, $patch;
    $v .= sprintf '%03d', ord($letter) - ord('a') if defined $letter;
    return $v;
}


sub version_cmp {
    my ($have, $op, $want) = @_;

    return $op =~ /^</ if !defined $have;
    return $op eq '<'  ? $have < $want
         : $op eq '<=' ? $have <= $want
         : $op eq '>'  ? $have > $want
         :               $have >= $want;
}


sub init_nginx_version {
    my @bin = split ' ', $NginxBinary;
    bail_out('Cannot find the nginx executable in the PATH environment')
        if !can_run($bin[0]);

    my $out = qx{$NginxBinary -V 2>&1};
    bail_out("Failed to get the version of the Nginx in PATH: $out")
        if $? != 0;

    $OpenSSLVersion = canon_version($1, $2, $3, $4)
        if $out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?};

    $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}
        or bail_out("Failed to parse the output of \"nginx -V\": $out");
    $NginxRawVersion = "$1.$2.$3";
    $NginxVersion = canon_version($1, $2, $3);

    $Server->use_error_log_option($NginxVersion >= 1.019005);
}


sub can_run {
    my ($cmd) = @_;

    return -f $cmd && -x _ if $cmd =~ m{/};
    for my $dir (split /:/, $ENV{PATH} || '') {
        return 1 if $dir ne '' && -f "$dir/$cmd" && -x _;
    }
    return 0;
}


sub expand_env {
    my ($text, $name, $ports) = @_;

    return $text if !defined $text || ref $text;
    $text =~ s/\$(TEST_NGINX_[_A-Z0-9]+)/env_value($1, $name, $ports)/ge;
    return $text;
}


sub env_value {
    my ($var, $name, $ports) = @_;

    if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
        return $ports->{$var} if defined $ports->{$var};

        my %used = map { $_ => 1 } $ServerPort, values %$ports;
        my $port = Test::Nginx::Compat::Server->free_port($ServerAddr, \%used)
            // bail_out("$name - Cannot find an available listening port "
                        . "number for $var.\n");
        return $ports->{$var} = $port;
    }

    bail_out("$name - No environment $var defined.\n")
        if !defined $ENV{$var};
    return $ENV{$var};
}


# Whether the block speaks HTTP/2 (h2c with prior knowledge): with
# "--- http2", or in TEST_NGINX_USE_HTTP2 mode unless "--- no_http2", a
# raw or pipelined request, an HTTP/1.0 request, or a proxy_pass to the
# server's own port (which then speaks HTTP/2 only) says otherwise.
sub use_http2 {
    my ($block) = @_;

    my $cached = $block->test_nginx_enabled_http2;
    return $cached if defined $cached;

    my $name = $block->name;
    my $on = 0;
    if (defined $block->no_http2) {
        $on = 0;

    } elsif (defined $block->http2) {
        bail_out("$name - cannot use --- http2 with --- raw_request")
            if defined $block->raw_request;
        bail_out("$name - cannot use --- http2 with --- pipelined_requests")
            if defined $block->pipelined_requests;
        $on = 1;

    } elsif ($UseHttp2) {
        my $self = qr/proxy_pass .*:\$(?:server_port|TEST_NGINX_SERVER_PORT)/;
        my $why = defined $block->raw_request ? 'uses raw_request'
            : defined $block->pipelined_requests ? 'uses pipelined_requests'
            : !defined $block->request ? ''
            : !ref $block->request && $block->request =~ m{HTTP/1\.0}
                ? 'explicitly requires HTTP 1.0'
            : (grep { defined && !ref && /$self/ }
                    map { section($block, $_) }
                    qw(config http_config user_files))
                ? 'proxies to the server port'
            : undef;
        warn "WARNING: $name - $why, so will not use HTTP/2\n" if $why;
        $on = defined $why ? 0 : 1;
    }

    $block->set_value(test_nginx_enabled_http2 => $on);
    return $on;
}


sub prepare_nginx {
    my ($block, $config, $ports, $first) = @_;

    my $name = $block->name;
    $ConfigVersion = $UseHup ? rand_str(10) : undef;

    my $pid = $Server->read_pid;
    if ($pid && $Server->is_running($pid)) {
        return if $UseHup && !$first
                  && reload_nginx($block, $config, $ports, $pid);
        stop_nginx($name);

    } else {
        unlink $PidFile;
    }

    setup_server($block, $config, $ports, $first);
    start_nginx($name);
}


sub rand_str {
    my ($len) = @_;

    my @chars = ('A' .. 'Z', 'a' .. 'z', '0' .. '9');
    return join '', map { $chars[rand @chars] } 1 .. $len;
}


sub setup_server {
    my ($block, $config, $ports, $first) = @_;

    my $name = $block->name;
    my $err = $Server->setup_root(first => $first, hup => $UseHup);
    bail_out("$name - $err") if $err;

    write_user_files($block, $ports);
    run_perl_section($block, 'post_setup_server_root');
    write_config($block, $config, $ports);
}


sub write_user_files {
    my ($block, $ports) = @_;

    my $name = $block->name;
    my $files = $block->user_files or return;

    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];

            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ', only scalar or ARRAY are accepted');
    }

    my @expanded = map {
        [ $_->[0], expand_env($_->[1] // '', $name, $ports), $_->[2] ]
    } @$files;

    my $err = $Server->write_user_files(\@expanded);
    bail_out("$name - $err") if $err;
}


sub write_config {
    my ($block, $config, $ports) = @_;

    my $name = $block->name;
    my $main = join '', map { "load_module $_;\n" }
                        split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
    $main .= $block->main_config if defined $block->main_config;
    $Http2Listen = use_http2($block);

    my $err = $Server->write_config(
        workers            => $Workers,
        daemon             => $UseValgrind ? 'off' : 'on',
        master             => $UseHup ? 'on' : $MasterProcessEnabled,
        log_level          => $LogLevel,
        error_log_file     => $block->error_log_file || $ErrLogFile,
        env                => \@EnvToNginx,
        main_config        => expand_env($main, $name, $ports),
        http_config        => expand_env(section($block, 'http_config'),
                                         $name, $ports),
        config             => $config,
        post_main_config   => expand_env(section($block, 'post_main_config'),
                                         $name, $ports),
        port               => $ServerPort,
        server_name        => $block->server_name // $ServerName,
        preamble           => $ConfigPreamble,
        root_location      => !$NoRootLocation,
        hup_version        => $ConfigVersion,
        http2              => !$Http2Listen ? undef
                              : $NginxVersion >= 1.025001 ? 'directive'
                              : 'listen',
        worker_connections => $WorkerConnections,
        event_type         => $ENV{TEST_NGINX_EVENT_TYPE},
        user               => worker_user(),
    );
    bail_out("$name - $err") if $err;
}


sub worker_user {
    my $user = $ENV{TEST_NGINX_WORKER_USER};
    if (defined $user) {
        bail_out("Bad value in the env TEST_NGINX_WORKER_USER: $user")
            if $user !~ /^\w+(?:\s+\w+)?$/;
        return $user;
    }
    return $> == 0 ? 'root' : undef;
}


sub start_nginx {
    my ($name) = @_;

    $ErrLogPos = 0;
    return start_under_valgrind($name) if $UseValgrind;

    my ($waited, $try) = (0, 0);
    while (1) {
        my $status = $Server->run_daemon(10);
        bail_out("$name - the nginx command did not return within 10 s")
            if !defined $status;
        last if $status == 0;

        # nginx refusing to start is seldom transient, so retry briefly
        if ($waited >= 5) {
            bail_out("$name - Cannot start nginx using command \""
                     . join(' ', $Server->command)
                     . "\" (status code $status).");
        }
        my $delay = min(1, 0.1 * ++$try);
        sleep $delay;
        $waited += $delay;
    }

    $Server->wait_pid_file(3)
        or warn "WARNING: $name - nginx wrote no pid file within 3 s\n";
    sleep $TestNginxSleep;
}


sub start_under_valgrind {
    my ($name) = @_;

    warn "$name\n";
    my $err = $Server->start_valgrind($UseValgrind);
    bail_out("$name - $err") if $err;

    if (!$Server->wait_port($ServerAddr, $ServerPort, 60)) {
        stop_nginx($name);
        bail_out("$name - nginx under valgrind did not start listening on "
                 . "port $ServerPort within 60 s (see $ErrLogFile)");
    }
    $Server->wait_pid_file(10);
}


# HUP mode: reuse the running master.  Returns false to fall back to a
# full restart.
sub reload_nginx {
    my ($block, $config, $ports, $pid) = @_;

    my $name = $block->name;
    setup_server($block, $config, $ports, 0);

    my @old_workers = $Server->worker_pids($pid);
    if (my $err = $Server->reload_signals($pid)) {
        warn "$name - $err\n";
        return 0;
    }

    if (defined $block->reload_fails) {
        sleep 0.3;
        return 1;
    }

    $Server->wait_workers_retired(\@old_workers, max(5, $Timeout))
        or warn "WARNING: $name - old nginx workers still accept "
                . "connections after the reload\n";
    wait_config_version($name);
    return 1;
}


# The reloaded config answers /ver with a fresh random string; require it
# several times in a row before the block's requests go out.
sub wait_config_version {
    my ($name) = @_;

    my $deadline = time + max(10, 3 * $Timeout);
    my $hits = 0;
    while (time < $deadline) {
        my $ver = http_get($ServerAddr, $ServerPort, '/ver', 'Test-Nginx', 1,
                           $Http2Listen);
        if (defined $ver && $ver eq $ConfigVersion) {
            return if ++$hits >= 10;
            next;
        }
        $hits = 0;
        sleep 0.02;
    }

    no_ending();
    Test::More::fail("$name - failed to reload configuration");
}


sub stop_nginx {
    my ($name) = @_;

    # memcheck's leak check makes a valgrind'ed nginx slow to exit
    $Server->stop($Server->has_child ? max(10, $Timeout) : $Timeout, $name);
    check_valgrind_report($name);
}


sub check_valgrind_report {
    my ($name) = @_;

    my $report = $Server->take_valgrind_report or return;
    Test::More::diag("valgrind report (nginx stopped at: $name):\n$report");
    no_ending();
    Test::More::fail("$name - valgrind reported memcheck errors");
}


sub run_must_die {
    my ($block, $config, $ports, $first) = @_;

    my $name = $block->name;
    my $expect = $block->must_die;

    stop_nginx($name) if $Server->is_running($Server->read_pid);
    setup_server($block, $config, $ports, $first);

    $ErrLogPos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        my $status = $Server->run_daemon(10);
        my $code = defined $status && $status > 0 ? $status >> 8 : undef;

        if (!defined $status) {
            Test::More::fail("$name - the nginx command did not return");
        } elsif ($status == -1 || (defined $code && $code == 127)) {
            Test::More::fail("$name - failed to execute the nginx command "
                             . 'line');
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($expect)) {
            Test::More::is($code // 0, $expect,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        check_error_log($block, $i);

        if (defined $status && $status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing "
                 . "it (req $i)\n";
            $Server->wait_pid_file(1);
            stop_nginx($name);
        }
    }
}


sub run_requests {
    my ($block, $rep, $ports) = @_;

    my $name = $block->name;
    my $reqs = eval {
        build_requests(
            map({ $_ => section($block, $_) }
                qw(raw_request request pipelined_requests more_headers)),
            server_name => $ServerName,
        );
    } or bail_out("$name - $@");
    bail_out("$name - request empty") if !@$reqs;

    my $timeout = parse_time(section($block, 'timeout')) // $Timeout;
    my $pipelined = $block->pipelined_requests;
    my $per_conn = $pipelined ? scalar @$pipelined : 1;
    my $need_array = $pipelined || @$reqs > 1;
    my $idx = 0;

    for my $r (0 .. $#$reqs) {
        my ($raw, $is_head) = send_request($block, $reqs->[$r], $timeout);

        for my $k (1 .. $per_conn) {
            my $left = check_response($block, $raw // '', $is_head, $idx,
                                      $rep, $need_array, $ports);
            if ($pipelined) {
                $raw = $left;

            } elsif (defined $left && length $left) {
                warn "WARNING: $name - unexpected extra bytes after last "
                     . 'chunk in response: "' . printable($left) . "\"\n";
            }

            if ($k < $per_conn || $r < $#$reqs) {
                check_logs($block, $rep);
            }
            $idx++;
        }
    }

    check_logs($block, $rep);
}


sub check_logs {
    my ($block, $rep) = @_;

    sleep parse_time($block->wait) if $block->wait;
    check_error_log($block, $rep);
    check_access_log($block, $rep) if !defined $block->ignore_response;
}


sub parse_time {
    my ($t) = @_;

    return undef if !defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $t;
}


sub send_request {
    my ($block, $packets, $timeout) = @_;

    my $name = $block->name;
    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $is_head = join('', map { $_->{value} } @$packets) =~ /^\s*HEAD\s+/;

    my $deadline = time + ($UseValgrind ? 30 : 5);
    my $sock;
    for (my $try = 1; ; $try++) {
        $sock = connect_once($addr, $ServerPortForClient, $timeout) and last;
        my $err = $!;

        if (time >= $deadline) {
            my $msg = "$name - Can't connect to $addr:$ServerPortForClient: "
                      . "$err (aborted)\n";
            bail_out($msg) if ++$ConnectFailures >= 3;
            no_ending();
            Test::More::fail($msg);
            return (undef, $is_head);
        }
        sleep min(1, ($TestNginxSleep + $TestNginxSleep * $try) * $try / 2);
    }

    my $shutdown = $block->shutdown;
    $shutdown = 1 if defined $shutdown && $shutdown !~ /\S/;

    my $send = use_http2($block) ? \&exchange_h2 : \&exchange;
    my ($raw, $timed_out) = $send->(
        $sock,
        packets      => $packets,
        timeout      => $timeout,
        limit        => max(60, 20 * $timeout),
        middle_delay => section($block, 'raw_request_middle_delay'),
        shutdown     => $shutdown,
        name         => $name,
    );

    if ($timed_out && !defined $block->abort) {
        no_ending();
        Test::More::fail("ERROR: client socket timed out - $name\n");
    }

    warn "response: [$raw]\n" if $Verbose;
    return ($raw, $is_head);
}


# Parses one response and runs the response checks; returns the bytes left
# over after it (the next pipelined response).
sub check_response {
    my ($block, $raw, $is_head, $idx, $rep, $need_array, $ports) = @_;

    return undef if defined $block->ignore_response;

    my ($res, $raw_headers, $left, $err);
    if (defined $block->http09) {
        ($res, $raw_headers) = ({ code => 200, message => 'OK',
                                  headers => [], content => $raw }, '');
    } else {
        ($res, $raw_headers, $left, $err) = parse_response($raw, $is_head);
        if (defined $err) {
            no_ending();
            Test::More::fail($block->name . " - $err");
        }
    }

    check_error_code($block, $res, $idx, $need_array);
    check_raw_response_headers($block, $raw_headers, $idx, $need_array);
    check_response_headers($block, $res, $raw_headers, $idx, $need_array);
    filter_response_body($block, $res, $idx);
    check_response_body($block, $res, $idx, $rep, $need_array, $ports);
    return $left;
}


# Test::Base's AUTOLOAD returns an empty list for an absent section when
# called in list context, which would shift the arguments of a call.
sub section {
    my ($block, $key) = @_;

    my $value = $block->$key;
    return $value;
}


# The expectation for request $idx: with several requests per block the
# section must be an array.
sub indexed {
    my ($block, $key, $idx, $need_array) = @_;

    my $value = section($block, $key);
    my $is_array = ref $value eq 'ARRAY';
    bail_out($block->name . ' - You asked for many requests, the expected '
             . 'results should be arrays as well.')
        if $need_array && !$is_array;
    return $is_array ? $value->[$need_array ? $idx : 0] : $value;
}


sub check_error_code {
    my ($block, $res, $idx, $need_array) = @_;

    my $name = $block->name;
    my $code = ($res && $res->{code}) || '';

    if (defined $block->error_code_like) {
        my $re = indexed($block, 'error_code_like', $idx, $need_array);
        Test::More::like($code, qr/$re/sm, "$name - status code ok");
        return;
    }

    my $want = defined $block->error_code
             ? indexed($block, 'error_code', $idx, $need_array) : 200;
    Test::More::is($code, $want, "$name - status code ok");
}


sub check_raw_response_headers {
    my ($block, $raw_headers, $idx, $need_array) = @_;

    my $name = $block->name;
    for my $kind (qw(like unlike)) {
        my $key = "raw_response_headers_$kind";
        next if !defined section($block, $key);

        my $re = indexed($block, $key, $idx, $need_array);
        my $cmp = $kind eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($raw_headers, qr/$re/s, "$name - raw resp headers $kind");
    }
}


sub check_response_headers {
    my ($block, $res, $raw_headers, $idx, $need_array) = @_;

    my $name = $block->name;

    if (defined $block->response_headers) {
        my $spec = indexed($block, 'response_headers', $idx, $need_array);
        for my $h (parse_header_spec($spec)) {
            my ($key, $want) = @$h;
            if (!defined $want) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/msi,
                    "$name - header $key not present in the raw headers");
                next;
            }
            $want =~ s/\$ServerPort\b/$ServerPort/g;
            $want =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            Test::More::is(header_value($res, $key) // '', $want,
                           "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $spec = indexed($block, 'response_headers_like', $idx,
                           $need_array);
        for my $h (parse_header_spec($spec)) {
            my ($key, $re) = @$h;
            $re //= '';
            Test::More::like(header_value($res, $key) // '', qr/^$re$/,
                             "$name - header $key like ok");
        }
    }
}


# "Name: value" lines, "!Name" for absence; one subtest per distinct name.
sub parse_header_spec {
    my ($text) = @_;

    my (@order, %value);
    for my $line (split /\n/, $text // '') {
        $line =~ s/^\s+|\s+$//g;
        my ($key, $val) = $line =~ s/^!\s*// ? ($line, undef)
                                             : split /\s*:\s*/, $line, 2;
        push @order, $key if !exists $value{$key};
        $value{$key} = $val;
    }
    return map { [$_, $value{$_}] } @order;
}


my %BODY_FILTERS = (
    md5_hex  => sub { require Digest::MD5; Digest::MD5::md5_hex($_[0]) },
    sha1_hex => sub { require Digest::SHA; Digest::SHA::sha1_hex($_[0]) },
    uc       => sub { uc $_[0] },
    lc       => sub { lc $_[0] },
    ucfirst  => sub { ucfirst $_[0] },
    lcfirst  => sub { lcfirst $_[0] },
    length   => sub { length $_[0] },
);


sub filter_response_body {
    my ($block, $res, $idx) = @_;

    my $filters = $block->response_body_filters;
    return if !defined $filters || !$res || !defined $res->{content};

    my $name = $block->name;
    if (!ref $filters) {
        $filters = [ split ' ', $filters ];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    if (ref $filters->[0] eq 'ARRAY') {
        $filters = $filters->[$idx]
            // bail_out("$name - the --- response_body_filters "
                        . "two-dimensional array unmatch the specified "
                        . "request($idx)");
    }

    for my $f (@$filters) {
        my $code = ref $f eq 'CODE' ? $f : !ref $f ? $BODY_FILTERS{$f} : undef;
        bail_out("$name - unknown filter, \"$f\", specified in the --- "
                 . 'response_body_filters section') if !$code;
        $res->{content} = $code->($res->{content});
    }
}


sub check_response_body {
    my ($block, $res, $idx, $rep, $need_array, $ports) = @_;

    my $name = $block->name;
    my $content = $res ? $res->{content} : undef;

    if (defined $block->response_body || defined $block->response_body_eval)
    {
        my $expected;
        if (defined $block->response_body_eval) {
            $expected = eval indexed($block, 'response_body_eval', $idx,
                                     $need_array);
            warn $@ if $@;
        } else {
            $expected = indexed($block, 'response_body', $idx, $need_array);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env($expected, $name, $ports);
        }

        my $desc = "$name - response_body - response is expected (repeated "
                   . "req $rep, req $idx)";
        if (ref $expected) {
            Test::More::like($content, $expected, $desc);
        } else {
            Test::More::is($content, $expected, $desc);
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $kind = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = indexed($block, "response_body_$kind", $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

        my $summary = defined $content ? $content : '';
        $summary =~ s/^\s+|\s+$//g;
        $summary =~ s/\s+/ /g;

        my $cmp = $kind eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($content, qr/$pat/s,
               "$name - response_body_$kind - response is expected "
               . "($summary)");
    }

    $_->($block, $content, $idx, $rep, 0) for @ResponseBodyChecks;
}


sub error_log_lines {
    sleep $TestNginxSleep * 3;

    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogPos, 0 if !$CheckAccumErrLog && $ErrLogPos > 0;
    my @lines = <$in>;
    $ErrLogPos = tell $in if !$CheckAccumErrLog;
    close $in;
    return \@lines;
}


sub access_log_lines {
    sleep $TestNginxSleep * 3;

    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}


sub pattern_list {
    my ($pats) = @_;

    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';
    chomp $pats;
    return [ split /\n+/, $pats ];
}


sub line_matches {
    my ($line, $pat) = @_;

    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}


sub mentions {
    my ($pats, $needle) = @_;

    return 0 if !defined $pats;
    return grep { mentions($_, $needle) } @$pats if ref $pats eq 'ARRAY';
    return index("$pats", $needle) >= 0;
}


# Each pattern must match some line: one subtest per pattern.
sub expect_lines {
    my ($name, $what, $pats, $lines, $rep) = @_;

    my @left = @{ pattern_list($pats) };
    for my $line (@$lines) {
        for my $pat (@left) {
            next if !defined $pat || !line_matches($line, $pat);
            Test::More::pass("$name - pattern \"$pat\" matches a line in "
                             . "$what (req $rep)");
            undef $pat;
        }
    }

    for my $pat (grep { defined } @left) {
        Test::More::fail("$name - pattern \"$pat\" should match a line in "
                         . "$what (req $rep)");
    }
}


# One pass per absent pattern, one failure per offending line.
sub reject_lines {
    my ($name, $what, $pats, $lines, $rep) = @_;

    my @pats = grep { defined } @{ pattern_list($pats) };
    my %found;
    for my $i (0 .. $#$lines) {
        for my $pat (@pats) {
            next if !line_matches($lines->[$i], $pat);
            no_ending() if $found{$pat}++;

            my $context = join '',
                          @$lines[$i + 1 .. min($i + 9, $#$lines - 1)];
            Test::More::fail("$name - pattern \"" . printable($pat)
                . "\" should not match any line in $what but matches line \""
                . printable($lines->[$i]) . "\" (req $rep)\n$context");
        }
    }

    for my $pat (grep { !$found{$_} } @pats) {
        Test::More::pass("$name - pattern \"" . printable($pat)
                         . "\" does not match a line in $what (req $rep)");
    }
}


sub check_error_log {
    my ($block, $rep) = @_;

    my $name = $block->name;
    my $lines = error_log_lines();

    check_grep_error_log($block, $lines, $rep);

    my $want = section($block, 'error_log');
    my $reject = section($block, 'no_error_log');
    expect_lines($name, 'error.log', $want, $lines, $rep) if defined $want;
    reject_lines($name, 'error.log', $reject, $lines, $rep)
        if defined $reject;

    # alerts are reported, not failed, unless a pattern is about them
    for my $level (qw(alert crit emerg)) {
        next if mentions($want, "[$level") || mentions($reject, "[$level");
        warn "WARNING: $name - " . printable($_) . "\n"
            for grep { /\[$level\]/ } @$lines;
    }

    for my $line (grep { /\bAssertion .*?failed\b/ } @$lines) {
        no_ending();
        chomp(my $l = $line);
        Test::More::fail("$name - $l\n");
    }
}


sub check_grep_error_log {
    my ($block, $lines, $rep) = @_;

    my $name = $block->name;
    my $pat = $block->grep_error_log;
    if (!defined $pat) {
        bail_out("$name - No --- grep_error_log defined but "
                 . '--- grep_error_log_out is defined')
            if defined $block->grep_error_log_out;
        return;
    }
    $pat = $pat->[$rep] if ref $pat eq 'ARRAY';
    return if !defined $pat;

    my $want = $block->grep_error_log_out;
    bail_out("$name - No --- grep_error_log_out defined but "
             . '--- grep_error_log is defined') if !defined $want;
    $want = $want->[$rep] if ref $want eq 'ARRAY';
    $want = expand_env($want, $name, {});

    my $got = '';
    for my $line (@$lines) {
        my $m;
        if (ref $pat && $line =~ /($pat)/) {
            $m = $1;
        } elsif ($line =~ /(\Q$pat\E)/) {
            $m = $1;
        }
        $got .= "$m\n" if defined $m && $m !~ /\n/;
    }

    is_str($got, $want, "$name - grep_error_log_out (req $rep)");
}


sub check_access_log {
    my ($block, $rep) = @_;

    my $name = $block->name;
    my $want = section($block, 'access_log');
    my $reject = section($block, 'no_access_log');
    return if !defined $want && !defined $reject;

    my $lines = access_log_lines();
    expect_lines($name, 'access.log', $want, $lines, $rep) if defined $want;
    reject_lines($name, 'access.log', $reject, $lines, $rep)
        if defined $reject;
}


sub append_error_log {
    my ($name) = @_;

    my $all = $ENV{TEST_NGINX_ERROR_LOG} or return;
    return if !-s $ErrLogFile;

    open my $out, '>>', $all or bail_out("Failed to append to $all: $!");
    open my $in, '<', $ErrLogFile or return;
    print {$out} "\n=== $name\n", <$in>;
    close $in;
    close $out;
}


sub printable {
    my ($s) = @_;

    $s = "$s";
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/([\0-\037\200-\377])/sprintf '\x{%02x}', ord $1/ge;
    return $s;
}


sub no_ending {
    Test::More->builder->no_ending(1);
}


sub run_cleanup_handlers {
    return if $CleanedUp++;
    $_->() for @CleanupHandlers;
}


END {
    if ($$ == $MainPid) {
        local $?;
        run_cleanup_handlers();

        my $running = $Server->is_running($Server->read_pid)
                      || $Server->has_child;
        stop_nginx('END')
            if $running && (!$ENV{TEST_NGINX_NO_CLEAN} || $UseValgrind);

        remove_tree($ServRoot)
            if $Randomize && !$ENV{TEST_NGINX_NO_CLEAN} && -d $ServRoot
               && $ServRoot =~ m{/t/servroot_\d+$};
    }
}


1;

# Failures must be reported: each fixture in fixtures/ runs under its own
# prove and we check prove's exit status and the TAP it printed.  (As with
# the real framework, some failures mark the run no_ending, so perl itself
# may exit 0; prove's verdict is what counts.)  Also covers the
# default paths, TEST_NGINX_RANDOMIZE with prove -j2, ONLY and the
# valgrind report (with a fake valgrind, see 008-valgrind.t for the real).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use FindBin;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

my $Here = abs_path($FindBin::Bin);
my $Root = abs_path("$Here/../..");
my $Lib = "$Root/t/compat";
my $Fix = "$Here/fixtures";
my $Nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';

use lib "$FindBin::Bin/../../t/compat";

plan tests => 55;

# fixtures run here, so their t/servroot_* never mix with other test files'
my $Work = tempdir(CLEANUP => 1);
mkdir "$Work/t" or die "mkdir $Work/t: $!";


# Runs a command with a clean TEST_NGINX_* environment plus %env; returns
# { exit, out, err, secs }.  Killed after $limit seconds.
sub run_cmd {
    my ($cmd, %opt) = @_;

    my $dir = tempdir(CLEANUP => 1);
    my $limit = $opt{limit} || 60;
    my $start = time;

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        delete $ENV{$_} for grep { /^TEST_NGINX_/ } keys %ENV;
        %ENV = (%ENV, TEST_NGINX_BINARY => $Nginx, PERL5LIB => $Lib,
                TEST_NGINX_RANDOMIZE => 1, %{ $opt{env} || {} });
        delete $ENV{$_} for grep { !defined $ENV{$_} } keys %ENV;
        chdir($opt{cwd} || $Work) or die "chdir: $!";
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>', "$dir/err" or die;
        exec @$cmd or POSIX::_exit(127);
    }

    my $status;
    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $status = $?;
            last;
        }
        if (time - $start > $limit) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $status = -1;
            last;
        }
        sleep 0.05;
    }

    my %r = (exit => $status == -1 ? -1 : $status >> 8,
             secs => time - $start);
    for my $s (qw(out err)) {
        open my $in, '<', "$dir/$s" or die;
        local $/;
        $r{$s} = <$in> // '';
    }
    return \%r;
}


sub fixture {
    my ($name, %opt) = @_;

    return run_cmd(['prove', '-v', '-e', $^X, "$Fix/$name"], %opt);
}




{
    my $r = fixture('pass.tx');
    is $r->{exit}, 0, 'pass.tx exits 0';
    like $r->{out}, qr/^1\.\.12$/m, 'pass.tx plans 12';
    like $r->{out}, qr/^Result: PASS$/m, 'prove says PASS';
    unlike $r->{out}, qr/^not ok/m, 'pass.tx has no failures';
}

{
    my $r = fixture('fail-body.tx');
    isnt $r->{exit}, 0, 'wrong body: non-zero exit';
    like $r->{out}, qr/^ok 1 - .*status code ok$/m, 'status still passes';
    like $r->{out}, qr/^not ok 2 - .*TEST 1: wrong body - response_body/m,
         'body mismatch is "not ok"';
    like $r->{err}, qr/got: 'actual$/m, 'diag shows the actual body';
}

{
    my $r = fixture('fail-timeout.tx');
    isnt $r->{exit}, 0, 'client timeout: non-zero exit';
    like $r->{out}, qr/^not ok \d+ - ERROR: client socket timed out - /m,
         'timeout is a failure without --- abort';
    cmp_ok $r->{secs}, '<', 15, 'and it does not hang';
}

{
    my $r = fixture('fail-timeout.tx', env => { TEST_NGINX_TIMEOUT => 5 });
    like $r->{out}, qr/client socket timed out/,
         '--- timeout wins over TEST_NGINX_TIMEOUT';
    cmp_ok $r->{secs}, '<', 4, '... so the run stays short';
}

{
    my $r = fixture('fail-no-error-log.tx');
    isnt $r->{exit}, 0, 'no_error_log match: non-zero exit';
    like $r->{out},
         qr/^not ok 2 - .*pattern "\[error\]" should not match any line/m,
         'matching line reported';
}

{
    my $r = fixture('fail-must-die.tx');
    isnt $r->{exit}, 0, 'must_die on a good config: non-zero exit';
    like $r->{out}, qr/^not ok 1 - .*die as expected/m, 'reported';
    like $r->{err}, qr/nginx must die but it does not/, 'and warned';
}

{
    my $r = fixture('bail-env.tx');
    isnt $r->{exit}, 0, 'undefined $TEST_NGINX_ var fails the run';
    my $msg = 'No environment TEST_NGINX_NO_SUCH_VAR_XYZ defined';
    like "$r->{out}$r->{err}", qr/Further testing stopped: .* - \Q$msg\E/,
         'it is a bail out naming the variable';
}

{
    my $r = fixture('fail-noconnect.tx');
    isnt $r->{exit}, 0, 'nothing listening: non-zero exit';
    like $r->{out}, qr/^not ok \d+ - .*Can't connect to 127\.0\.0\.1:\d+/m,
         'connect failure reported';
    cmp_ok $r->{secs}, '<', 15, 'connect retries are bounded';
}

{
    my $r = fixture('warn-crit.tx');
    is $r->{exit}, 0, '[crit] lines do not fail';
    my @w = $r->{err} =~ /^WARNING: .* - .*\[crit\].*$/mg;
    is scalar(@w), 1, 'one warning: only the block not naming [crit]';
    like $w[0] // '', qr/TEST 1: a fifo/, 'from the right block';
}

{
    my @orders = map {
        my $r = fixture('order.tx', env => $_ ? { TEST_NGINX_NO_SHUFFLE => 1 }
                                              : {});
        join ' ', $r->{out} =~ /# skip .*TEST (\d):/g;
    } 0, 0, 1;
    ok $orders[0] ne '1 2 3 4 5 6 7 8' || $orders[1] ne '1 2 3 4 5 6 7 8',
       'blocks run shuffled by default' or diag "@orders";
    is $orders[2], '1 2 3 4 5 6 7 8', 'TEST_NGINX_NO_SHUFFLE keeps file order';
}

{
    my $r = fixture('accum.tx');
    is $r->{exit}, 0, 'check_accum_error_log: earlier lines still count';

    my $dir = tempdir(CLEANUP => 1);
    $r = fixture('pass.tx', env => { TEST_NGINX_ERROR_LOG => "$dir/all.log",
                                     TEST_NGINX_NO_SHUFFLE => 1 });
    my $all = slurp("$dir/all.log") // '';
    my @titles = $all =~ /^=== .*pass\.tx (TEST \d)/mg;
    is "@titles", 'TEST 1 TEST 2',
       'TEST_NGINX_ERROR_LOG collects each block, in file order with '
       . 'TEST_NGINX_NO_SHUFFLE' or diag $r->{err};
}

{
    my $r = fixture('only.tx');
    is $r->{exit}, 0, 'ONLY: passes';
    like $r->{err}, qr/I found ONLY/, 'ONLY is announced';
    like $r->{out}, qr/^1\.\.2$/m, 'and only that block ran';
}

{
    my $fake = tempdir(CLEANUP => 1);
    symlink "$Fix/valgrind-fake", "$fake/valgrind" or die "symlink: $!";
    my $r = fixture('pass.tx', env => { TEST_NGINX_USE_VALGRIND => 1,
                                        PATH => "$fake:$ENV{PATH}" });
    isnt $r->{exit}, 0, 'valgrind errors: non-zero exit';
    like $r->{out}, qr/^not ok \d+ - .*valgrind reported memcheck errors/m,
         'valgrind report is a failure';
    like $r->{err}, qr/Invalid read of size 8/, 'and its text is shown';
    my @n = $r->{out} =~ /valgrind reported/g;
    is scalar(@n), 2, 'once per block (nginx stopped after each)';
}

{
    # two copies, as prove runs a file named twice only once
    my $dir = tempdir(CLEANUP => 1);
    for my $copy ("$dir/a.t", "$dir/b.t") {
        open my $out, '>', $copy or die;
        print {$out} slurp("$Fix/pass.tx");
        close $out;
    }
    my $r = run_cmd(['prove', '-j2', '-e', $^X, "$dir/a.t", "$dir/b.t"]);
    is $r->{exit}, 0, 'prove -j2 with TEST_NGINX_RANDOMIZE';
    like $r->{out}, qr/Files=2, Tests=24/, 'both ran all tests';
}

is scalar(my @left = glob "$Work/t/servroot_*"), 0,
   'randomized server roots are removed';

{
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/t";
    open my $out, '>', "$dir/probe.pl" or die;
    print {$out} 'use Test::Nginx::Socket; print join("|", server_root(), '
                 . 'server_port(), html_dir(), $ENV{TEST_NGINX_SERVER_ROOT}),'
                 . qq{ "\n";\n__DATA__\n};
    close $out;
    my @cmd = ($^X, "-I$Lib", "$dir/probe.pl");
    my $real = abs_path($dir);

    my $r = run_cmd(\@cmd, cwd => $dir,
                    env => { TEST_NGINX_RANDOMIZE => undef });
    is first_line($r), "$real/t/servroot|1984|$real/t/servroot/html|"
                       . "$real/t/servroot", 'default servroot and port';

    $r = run_cmd(\@cmd, cwd => $dir,
                 env => { TEST_NGINX_RANDOMIZE => undef,
                          TEST_NGINX_PORT => 2999,
                          TEST_NGINX_SERVROOT => "$real/sr" });
    is first_line($r), "$real/sr|2999|$real/sr/html|$real/sr",
       'TEST_NGINX_PORT and TEST_NGINX_SERVROOT';

    $r = run_cmd(\@cmd, cwd => $dir,
                 env => { TEST_NGINX_RANDOMIZE => undef,
                          TEST_NGINX_SERVER_PORT => 3001,
                          TEST_NGINX_PORT => 2999 });
    like $r->{out}, qr/^\Q$real\E\/t\/servroot\|3001\|/,
         'TEST_NGINX_SERVER_PORT wins over TEST_NGINX_PORT';

    $r = run_cmd(\@cmd, cwd => $dir);
    like $r->{out}, qr{^\Q$real\E/t/servroot_(\d+)\|\1\|},
         'TEST_NGINX_RANDOMIZE: t/servroot_<port>';
}

{
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/t";
    my $r = run_cmd([$^X, "$Fix/pass.tx"], cwd => $dir,
                    env => { TEST_NGINX_RANDOMIZE => undef,
                             TEST_NGINX_PORT => free_port(),
                             TEST_NGINX_NO_CLEAN => 1 });
    is $r->{exit}, 0, 'TEST_NGINX_NO_CLEAN run passes';

    my $pid = read_pid("$dir/t/servroot/logs/nginx.pid");
    ok $pid && kill(0, $pid), 'TEST_NGINX_NO_CLEAN leaves nginx running';
    ok -s "$dir/t/servroot/conf/nginx.conf", '... and the server root';

    my $conf = slurp("$dir/t/servroot/conf/nginx.conf");
    like $conf, qr/^daemon on;\nmaster_process off;\n/m, 'daemon, master';
    like $conf, qr{^error_log \Q$dir\E/t/servroot/logs/error\.log debug;$}m,
         'error_log at debug';
    like $conf,
         qr{^\s+client_body_temp_path \Q$dir\E/t/servroot/client_body_temp;$}m,
         'temp paths inside the server root';
    if ($> == 0) {
        like $conf, qr/^user root;$/m, 'user root when run as root';
    } else {
        unlike $conf, qr/^user /m, 'no user directive when not root';
    }
    like $conf, qr/^\s+location \/ \{\n\s+root \Q$dir\E\/t\/servroot\/html;/m,
         'root location';

    kill 'QUIT', $pid if $pid;
    my $deadline = time + 5;
    sleep 0.05 while $pid && kill(0, $pid) && !zombie($pid)
                     && time < $deadline;
    ok !$pid || !kill(0, $pid) || zombie($pid), 'stopped it';
}

{
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/t";
    my $r = fixture('pass.tx', cwd => $dir,
                    env => { TEST_NGINX_LOAD_MODULES =>
                                 '/no/such/mod_a.so /no/such/mod_b.so' });
    like "$r->{out}$r->{err}", qr/Further testing stopped: .*Cannot start/,
         'TEST_NGINX_LOAD_MODULES: a missing module bails out';
    like $r->{err}, qr{load_module|dlopen\(\) "/no/such/mod_a\.so"},
         'nginx tried the first module';
}


# the probe is no test file, so Test::Base adds its own noise after it
sub first_line { (split /\n/, $_[0]{out})[0] // '' }

sub free_port {
    require Test::Nginx::Compat::Server;
    return Test::Nginx::Compat::Server->free_port('127.0.0.1', {});
}

sub read_pid {
    my $pid = slurp(shift) // return undef;
    chomp $pid;
    return $pid;
}

sub slurp {
    open my $in, '<', shift or return undef;
    local $/;
    return <$in>;
}

sub zombie {
    my $stat = slurp("/proc/$_[0]/stat") // return 0;
    return $stat =~ /^\d+ \(.*\) Z/s;
}

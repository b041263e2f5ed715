use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthRedis qw(free_port redis_start redis_cli http_get);
use IotAuthTest qw(write_html worker_pids);
use Cwd qw(realpath);
use File::Spec;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(time sleep);

# iot-auth-passwd (build/iot-auth-passwd, or $IOT_AUTH_PASSWD) driving
# the module.  The blocks are steps of one story and run in order: a
# credentials file of this file's own ($TEST_NGINX_CREDS, kept across
# the blocks), changed by the tool, then nginx reloaded (HUP) and asked;
# then a redis-server started here ($TEST_NGINX_REDIS_PORT, and
# $TEST_NGINX_REDIS_AUTH_PORT with a password and an ACL user), changed
# by the tool while nginx caches verdicts.  Each block's init writes what
# it saw to html/result.txt, which the block compares.

our $Tool = File::Spec->rel2abs($ENV{IOT_AUTH_PASSWD}
                                // 'build/iot-auth-passwd');

die "$Tool is not built: run make\n" unless -x $Tool;

# the tool names files by their real path
our $Dir = realpath(tempdir('iot-passwd-XXXXXX', TMPDIR => 1, CLEANUP => 1));

$ENV{TEST_NGINX_CREDS_DIR} = $Dir;
$ENV{TEST_NGINX_CREDS} = "$Dir/devices.creds";

# the hashes of "secret1" and "secret2" (htpasswd -B -C 4)
our $H1 = '$2y$04$5YYkbXcUn2rZHBTWckUOS.a7locA.amKsRJNg.uuV40KxHnZCBUNq';
our $H2 = '$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.';

# a comment, a blank line, a CRLF line, an indented comment, and no
# newline at the end
our $Orig = "# fleet A\n\nold-1:$H1:0x3\r\n   # spare ids: old-9, old-10\n"
            . "old-2:$H2";

write_file($ENV{TEST_NGINX_CREDS}, $Orig);
chmod 0640, $ENV{TEST_NGINX_CREDS};

# the owner to keep: another one than ours when we may give it away
if ($> == 0) {
    chown 65534, 65534, $ENV{TEST_NGINX_CREDS}
        or die "chown $ENV{TEST_NGINX_CREDS}: $!";
}

our $Password = 'pw-7c6b5a49';
our $AclPassword = 'acl-pw-3e2d1c';

$ENV{TEST_NGINX_REDIS_PORT} = free_port();
$ENV{TEST_NGINX_REDIS_SOCKET} = "$Dir/redis.sock";
$ENV{TEST_NGINX_REDIS_AUTH_PORT} = free_port();

redis_start('main', port => $ENV{TEST_NGINX_REDIS_PORT},
            socket => $ENV{TEST_NGINX_REDIS_SOCKET});
redis_start('auth', port => $ENV{TEST_NGINX_REDIS_AUTH_PORT},
            password => $Password);

redis_cli('auth', 'ACL', 'SETUSER', 'fleet', 'on', ">$AclPassword",
          '~iot:*', '&*', '+@all');

our %Secret;      # device => its secret, as the tool printed it
our $Before;      # the credentials file before the last change

sub write_file {
    my ($path, $text) = @_;

    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print $fh $text;
    close $fh or die "$path: $!";
}

sub slurp {
    my ($path) = @_;

    open my $fh, '<', $path or die "$path: $!";
    binmode $fh;
    local $/;
    return scalar <$fh>;
}

sub creds { slurp($ENV{TEST_NGINX_CREDS}) }

# Starts the tool with @args; %$opts: stdin (its text), env (more
# environment).  Its output goes to files until tool_result reads them.
sub tool_start {
    my ($opts, @args) = @_;

    my %run = (out => "$Dir/out.$$." . rand, err => "$Dir/err.$$." . rand);

    if (defined $opts->{stdin}) {
        $run{in} = "$Dir/in.$$." . rand;
        write_file($run{in}, $opts->{stdin});
    }

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', $run{in} // '/dev/null';
        open STDOUT, '>', $run{out};
        open STDERR, '>', $run{err};
        %ENV = (%ENV, %{ $opts->{env} || {} });
        { exec $Tool, @args }
        POSIX::_exit(127);
    }

    $run{pid} = $pid;
    return \%run;
}

# Waits for a started tool (20 s at most): { rc, out, err }.
sub tool_result {
    my ($run) = @_;

    my $deadline = time + 20;
    my $done = 0;
    while (time < $deadline) {
        last if $done = waitpid($run->{pid}, POSIX::WNOHANG()) == $run->{pid};
        sleep 0.01;
    }

    if (!$done) {
        kill 'KILL', $run->{pid};
        waitpid $run->{pid}, 0;
        $? = -1;
    }

    my %res = (rc => $done ? $? >> 8 : 'timeout',
               out => slurp($run->{out}), err => slurp($run->{err}));
    unlink grep { defined } @$run{qw(in out err)};

    return \%res;
}

# Runs the tool: tool(@args) or tool({ stdin => ..., env => ... }, @args).
sub tool {
    my $opts = ref $_[0] ? shift : {};

    return tool_result(tool_start($opts, @_));
}

sub file_tool { tool(ref $_[0] ? shift : {}, '-f', $ENV{TEST_NGINX_CREDS}, @_) }

sub redis_tool {
    my $opts = ref $_[0] ? shift : {};

    return tool($opts, '-r', "127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT}", @_);
}

# the first line the tool said on stderr (that matches $re), less its name
sub said {
    my ($res, $re) = @_;

    my ($line) = grep { !$re || $_ =~ $re } split /\n/, $res->{err};
    $line //= '';
    $line =~ s/^iot-auth-passwd: //;
    return $line;
}

# a made secret: one line of 32 hex digits and nothing else
sub made {
    my ($res) = @_;

    return $res->{out} =~ /\A([0-9a-f]{32})\n\z/ ? $1 : undef;
}

# the hash of a device's line in the credentials file
sub file_hash {
    my ($dev) = @_;

    return creds() =~ /^(?:#disabled: )?\Q$dev\E:(\$2b\$\d\d\$[^:\r\n]{53})/m
           ? $1 : undef;
}

# nginx -s reload: HUP to the master, then wait (5 s) until no worker of
# before is left and a new one runs
sub reload {
    my @old = worker_pids();
    my %old = map { $_ => 1 } @old;

    my $root = $ENV{TEST_NGINX_SERVER_ROOT};
    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    chomp(my $master = <$fh>);
    close $fh;

    kill 'HUP', $master or die "kill HUP $master: $!";

    my $deadline = time + 5;
    while (time < $deadline) {
        my @now = worker_pids();
        return if @now && !grep { $old{$_} } @now;
        sleep 0.05;
    }

    die "nginx did not reload within 5 s";
}

# "label status result perms=N" of a request for /p
sub probe {
    my ($label, $dev, $token) = @_;

    my $res = http_get('/p', { 'X-Device-Id' => $dev,
                               'X-Device-Token' => $token });
    my $perms = $res->{headers}{'x-perms'};

    return sprintf "%s %s %s%s\n", $label, $res->{status},
                   $res->{headers}{'x-result'} // '-',
                   defined $perms && length $perms ? " perms=$perms" : '';
}

# Polls a probe (1 s at most) until it answers $want.
sub probe_until {
    my ($want, $label, $dev, $token) = @_;

    my $line;
    my $deadline = time + 1;
    do {
        $line = probe($label, $dev, $token);
        return $line if $line =~ /^\Q$label\E \Q$want\E /;
        sleep 0.02;
    } while (time < $deadline);

    return $line;
}

sub yes { $_[0] ? 'yes' : 'no' }

# "exit N: what it said" for a run that must fail, and whether it wrote
# nothing on stdout
sub refused {
    my ($label, $res) = @_;

    return sprintf "%s: exit %s%s: %s\n", $label, $res->{rc},
                   length $res->{out} ? ' (and stdout)' : '', said($res);
}

sub owner_and_mode {
    my @st = stat $ENV{TEST_NGINX_CREDS};
    return sprintf '%d:%d %04o', $st[4], $st[5], $st[2] & 07777;
}


# --- the credentials file

sub file_add {
    my $owner = owner_and_mode();

    my $res = file_tool('add', 'dev-1', '--perms', '0x5');
    $Secret{'dev-1'} = made($res);

    my $out = sprintf "add: exit %d, a secret of 32 hex digits: %s\n",
                      $res->{rc}, yes($Secret{'dev-1'});
    $out .= sprintf "reminds of the reload: %s\n",
                    yes(said($res) eq "\"$ENV{TEST_NGINX_CREDS}\": device "
                        . '"dev-1" is added; nginx reads the file at start '
                        . 'and reload: nginx -s reload');

    my $hash = file_hash('dev-1') // '';
    $out .= sprintf "the old bytes, a newline, the new line: %s\n",
                    yes(creds() eq "$Orig\ndev-1:$hash:0x5\n");
    $out .= sprintf "cost 10 by default: %s\n", yes($hash =~ /^\$2b\$10\$/);
    $out .= sprintf "owner and mode kept: %s\n",
                    yes(owner_and_mode() eq $owner);

    $out .= probe('before reload', 'dev-1', $Secret{'dev-1'});
    reload();
    $out .= probe('after reload', 'dev-1', $Secret{'dev-1'});
    $out .= probe('wrong secret', 'dev-1', 'not-the-secret');
    $out .= probe('old-1', 'old-1', 'secret1');
    $out .= probe('old-2', 'old-2', 'secret2');

    $Before = creds();
    write_html('result.txt', $out);
}

sub file_rotate {
    my $old = file_hash('dev-1');
    my $res = file_tool('rotate', 'dev-1', '--cost', '5');
    my $secret = made($res);

    my $out = sprintf "rotate: exit %d, a new secret: %s\n", $res->{rc},
                      yes($secret && $secret ne $Secret{'dev-1'});

    my $new = file_hash('dev-1') // '';
    (my $expect = $Before) =~ s/\Q$old\E/$new/;
    $out .= sprintf "only the hash changed, to cost 5: %s\n",
                    yes(creds() eq $expect && $new =~ /^\$2b\$05\$/);

    $out .= probe('before reload, old secret', 'dev-1', $Secret{'dev-1'});
    reload();
    $out .= probe('after reload, old secret', 'dev-1', $Secret{'dev-1'});
    $out .= probe('after reload, new secret', 'dev-1', $secret);

    $Secret{'dev-1'} = $secret;
    $Before = creds();
    write_html('result.txt', $out);
}

sub file_disable_enable {
    my $res = file_tool('disable', 'dev-1');
    my $out = sprintf "disable: exit %d\n", $res->{rc};

    (my $expect = $Before) =~ s/^dev-1:/#disabled: dev-1:/m;
    $out .= sprintf "the line behind \"#disabled: \": %s\n",
                    yes(creds() eq $expect);

    reload();
    $out .= probe('disabled', 'dev-1', $Secret{'dev-1'});
    $out .= probe('old-1', 'old-1', 'secret1');

    $res = file_tool('list');
    $out .= "list: $1\n" if $res->{out} =~ /^(dev-1 .*)$/m;

    $res = file_tool('disable', 'dev-1');
    $out .= sprintf "disable again: exit %d: %s\n", $res->{rc}, said($res);

    $res = file_tool('enable', 'dev-1');
    $out .= sprintf "enable: exit %d\n", $res->{rc};
    $out .= sprintf "the file as before \"disable\": %s\n",
                    yes(creds() eq $Before);

    reload();
    $out .= probe('enabled', 'dev-1', $Secret{'dev-1'});

    $res = file_tool('enable', 'dev-1');
    $out .= sprintf "enable again: exit %d: %s\n", $res->{rc}, said($res);

    write_html('result.txt', $out);
}

sub file_perms_given {
    my $res = file_tool('perms', 'dev-1', '0x10');
    my $out = sprintf "perms: exit %d\n", $res->{rc};

    (my $expect = $Before) =~ s/^(dev-1:\S{60}):0x5$/$1:0x10/m;
    $out .= sprintf "only the perms changed: %s\n", yes(creds() eq $expect);

    $res = file_tool({ stdin => "given-secret-2\n" }, 'add', 'dev-2',
                     '--stdin', '-C', '4');
    $out .= sprintf "add --stdin: exit %d, stdout empty: %s\n", $res->{rc},
                    yes($res->{out} eq '');

    $res = file_tool({ stdin => "crlf-secret-3\r\n" }, 'add', 'dev-3', '-i',
                     '-C', '4');
    $out .= sprintf "add -i, a CRLF line: exit %d\n", $res->{rc};

    $res = file_tool('add', 'dev-4', '--secret', 'argv-secret-4', '-C', '4');
    $out .= sprintf "add --secret: exit %d, stdout empty: %s\n", $res->{rc},
                    yes($res->{out} eq '');

    reload();
    $out .= probe('new perms', 'dev-1', $Secret{'dev-1'});
    $out .= probe('stdin', 'dev-2', 'given-secret-2');
    $out .= probe('crlf', 'dev-3', 'crlf-secret-3');
    $out .= probe('argv', 'dev-4', 'argv-secret-4');

    write_html('result.txt', $out);
}

sub file_delete {
    my $out = '';

    for my $dev (qw(dev-1 dev-2 dev-3 dev-4)) {
        my $res = file_tool('delete', $dev);
        $out .= sprintf "delete %s: exit %d\n", $dev, $res->{rc};
    }

    $out .= sprintf "the old bytes and a newline: %s\n",
                    yes(creds() eq "$Orig\n");

    reload();
    $out .= probe('deleted', 'dev-1', $Secret{'dev-1'});
    $out .= probe('old-1', 'old-1', 'secret1');

    my $res = file_tool('delete', 'dev-1');
    $out .= refused('delete again', $res);

    write_html('result.txt', $out);
}

# ten runs add ten devices at once, five more the same device
sub file_concurrent {
    my @runs = map { tool_start({}, '-f', $ENV{TEST_NGINX_CREDS}, 'add',
                                "c-$_", '-C', '4') } 1 .. 10;
    my @same = map { tool_start({}, '-f', $ENV{TEST_NGINX_CREDS}, 'add',
                                'same', '-C', '4') } 1 .. 5;

    my @res = map { tool_result($_) } @runs;
    my @res_same = map { tool_result($_) } @same;

    my %rc;
    $rc{ $_->{rc} }++ for @res;
    my $out = join '', map { "ten devices: exit $_ x$rc{$_}\n" } sort keys %rc;
    my @won = grep { $_->{rc} eq '0' } @res_same;
    my @lost = grep { $_->{rc} eq '1'
                      && said($_, qr/already in/)
                         =~ /^device "same" is already in / } @res_same;
    $out .= sprintf "one device five times: %d added, %d already in\n",
                    scalar @won, scalar @lost;

    my $text = creds();
    my $lines = () = $text =~ /^(?:c-\d+|same):\$2b\$04\$\S{53}$/mg;
    $out .= sprintf "lines added: %d\n", $lines;
    $out .= sprintf "the old bytes first: %s\n",
                    yes(substr($text, 0, length $Orig) eq $Orig);

    reload();

    my %status;
    for my $i (1 .. 10) {
        my $line = probe("c-$i", "c-$i", made($res[$i - 1]) // 'none');
        $status{ (split ' ', $line)[1] }++;
    }
    $out .= join '', map { "ten devices: $_ x$status{$_}\n" } sort keys %status;
    $out .= probe('same', 'same', @won ? made($won[0]) : 'none');

    for my $dev ('same', map { "c-$_" } 1 .. 10) {
        file_tool('delete', $dev);
    }

    write_html('result.txt', $out);
}

# what the module would refuse, refused before the file is touched
sub file_invalid {
    my $before = creds();
    my $long = 'x' x 129;
    my $out = '';

    my @cases = (
        ['bad id', 'add', 'bad id'],
        ['long id', 'add', $long],
        ['comment id', 'add', '#dev'],
        ['bad perms', 'add', 'dev-9', '--perms', '0xZZ'],
        ['perms over 32 bits', 'add', 'dev-9', '--perms', '4294967296'],
        ['perms command', 'perms', 'old-1', '1.5'],
        ['cost 3', 'add', 'dev-9', '-C', '3'],
        ['cost 32', 'add', 'dev-9', '--cost', '32'],
        ['secret of 73', 'add', 'dev-9', '--secret', 'y' x 73],
        ['empty secret', 'add', 'dev-9', '--secret', ''],
        ['secret with a space', 'add', 'dev-9', '--secret', 'a b'],
        ['rotate unknown', 'rotate', 'nobody'],
        ['disable unknown', 'disable', 'nobody'],
        ['perms unknown', 'perms', 'nobody', '3'],
        ['add existing', 'add', 'old-1'],
        ['no device', 'rotate'],
        ['two stores', 'list', '--redis', '127.0.0.1:1'],
        ['redis option', 'list', '--prefix', 'x:'],
    );

    for my $case (@cases) {
        my ($label, @args) = @$case;
        $out .= refused($label, file_tool(@args));
    }

    $out .= refused('stdin, 73 bytes',
                    file_tool({ stdin => ('z' x 73) . "\n" }, 'add', 'dev-9',
                              '-i'));
    $out .= refused('stdin, empty', file_tool({ stdin => '' }, 'add',
                                              'dev-9', '--stdin'));

    $out .= sprintf "file untouched: %s\n", yes(creds() eq $before);

    my $bad = "$Dir/bad.creds";
    my $text = "ok-1:$H1\n# fine\nbad-1:\$2y\$04\$short\n";
    write_file($bad, $text);
    $out .= refused('a bad line', tool('-f', $bad, 'add', 'dev-9'));
    $out .= sprintf "bad file untouched: %s\n", yes(slurp($bad) eq $text);

    $text = "twice:$H1\n#disabled: twice:$H2\n";
    write_file($bad, $text);
    $out .= refused('a device twice', tool('-f', $bad, 'rotate', 'twice'));

    $out .= refused('no file', tool('-f', "$Dir/none.creds", 'list'));
    $out .= refused('create, but not add',
                    tool('-f', "$Dir/none.creds", '--create', 'list'));

    my $res = tool('-f', "$Dir/new.creds", '--create', 'add', 'n-1', '-C',
                   '4');
    my @st = stat "$Dir/new.creds";
    $out .= sprintf "--create: exit %d, mode %04o, one line: %s\n",
                    $res->{rc}, $st[2] & 07777,
                    yes(slurp("$Dir/new.creds")
                        =~ /\An-1:\$2b\$04\$\S{53}\n\z/);

    write_html('result.txt', $out);
}

# list, and a file reached through a symbolic link
sub file_list {
    my $res = file_tool('list');
    my $out = "list: exit $res->{rc}\n$res->{out}";
    $out .= sprintf "no hash shown: %s\n", yes($res->{out} !~ /\$2/);

    $res = file_tool('list', '--hashes');
    $out .= sprintf "--hashes shows them: %s\n",
                    yes($res->{out} =~ /^old-1 4 0x3 enabled \Q$H1\E$/m);

    symlink $ENV{TEST_NGINX_CREDS}, "$Dir/link.creds" or die "symlink: $!";
    $res = tool('-f', "$Dir/link.creds", 'add', 'via-link', '-C', '4');
    $out .= sprintf "through a link: exit %d, still a link: %s, "
                    . "the file changed: %s\n", $res->{rc},
                    yes(-l "$Dir/link.creds"),
                    yes(creds() =~ /^via-link:/m);
    tool('-f', "$Dir/link.creds", 'delete', 'via-link');

    my @tmp = glob "$Dir/.devices.creds.*";
    $out .= sprintf "temporary files left: %d\n", scalar @tmp;

    write_html('result.txt', $out);
}


# --- Redis

sub redis_add {
    my $res = redis_tool('add', 'r-1', '-C', '4', '-p', '3');
    $Secret{'r-1'} = made($res);

    my $out = sprintf "add: exit %d, a secret: %s\n", $res->{rc},
                      yes($Secret{'r-1'});
    $out .= sprintf "record: %s\n",
                    join ' ', map { /^\$2b\$04\$/ ? 'HASH' : $_ }
                              split /\n/, redis_cli('main', 'HGETALL',
                                                    'iot:device:r-1');
    $out .= probe('r-1', 'r-1', $Secret{'r-1'});
    $out .= probe('r-1 wrong', 'r-1', 'wrong');

    $res = redis_tool('add', 'r-1', '-C', '4');
    $out .= refused('add again', $res);

    $res = redis_tool('add', 'r-2', '-C', '4');
    $Secret{'r-2'} = made($res);
    $res = redis_tool('add', 'r-3', '-C', '4', '--perms', '0x10');
    $Secret{'r-3'} = made($res);

    $res = redis_tool('list');
    $out .= "list: exit $res->{rc}\n$res->{out}";

    write_html('result.txt', $out);
}

sub subscribed {
    my $deadline = time + 3;
    while (time < $deadline) {
        my (undef, $n) = split /\n/, redis_cli('main', 'PUBSUB', 'NUMSUB',
                                               'iot:revoke');
        return 1 if $n && $n >= 1;
        sleep 0.05;
    }
    return 0;
}

# a cached verdict is dropped at once by a rotate that publishes, and
# stays (ttl=30s) after one that does not
sub redis_rotate {
    my $out = probe('prime r-1', 'r-1', $Secret{'r-1'});
    $out .= probe('cached r-1', 'r-1', $Secret{'r-1'});
    $out .= probe('prime r-2', 'r-2', $Secret{'r-2'});

    $out .= sprintf "nginx subscribed: %s\n", yes(subscribed());

    my $res = redis_tool('rotate', 'r-1', '-C', '4', '--revoke-channel',
                         'iot:revoke');
    my $secret = made($res);
    $out .= sprintf "rotate: exit %d, a new secret: %s\n", $res->{rc},
                    yes($secret);
    $out .= sprintf "said: %s\n", said($res, qr/published/);

    my $t0 = time;
    $out .= probe_until(401, 'old secret', 'r-1', $Secret{'r-1'});
    $out .= sprintf "within a second, not the ttl: %s\n",
                    yes(time - $t0 < 1);
    $out .= probe('new secret', 'r-1', $secret);
    $Secret{'r-1'} = $secret;

    $res = redis_tool('rotate', 'r-2', '-C', '4');
    $out .= sprintf "rotate without a channel: exit %d: %s\n", $res->{rc},
                    said($res, qr/revoke-channel/);
    $out .= probe('old secret, cached', 'r-2', $Secret{'r-2'});

    write_html('result.txt', $out);
}

sub redis_disable_delete {
    my $out = probe('prime r-1', 'r-1', $Secret{'r-1'});
    $out .= probe('prime r-3', 'r-3', $Secret{'r-3'});
    $out .= sprintf "nginx subscribed: %s\n", yes(subscribed());

    my @chan = ('--revoke-channel', 'iot:revoke');

    my $res = redis_tool('disable', 'r-1', @chan);
    $out .= sprintf "disable: exit %d, field: %s\n", $res->{rc},
                    redis_cli('main', 'HGET', 'iot:device:r-1', 'disabled');
    $out .= probe_until(401, 'disabled', 'r-1', $Secret{'r-1'});

    $res = redis_tool('list');
    $out .= "list: $1\n" if $res->{out} =~ /^(r-1 .*)$/m;

    $res = redis_tool('enable', 'r-1', @chan);
    $out .= sprintf "enable: exit %d\n", $res->{rc};
    $out .= probe_until(200, 'enabled', 'r-1', $Secret{'r-1'});

    $res = redis_tool('perms', 'r-3', '0x30', @chan);
    $out .= sprintf "perms: exit %d\n", $res->{rc};
    $out .= probe_until(200, 'new perms', 'r-3', $Secret{'r-3'});

    $res = redis_tool('delete', 'r-1', @chan);
    $out .= sprintf "delete: exit %d, key left: %s\n", $res->{rc},
                    redis_cli('main', 'EXISTS', 'iot:device:r-1');
    $out .= probe_until(401, 'deleted', 'r-1', $Secret{'r-1'});

    $out .= refused('delete again', redis_tool('delete', 'r-1', @chan));
    $out .= refused('rotate unknown', redis_tool('rotate', 'r-1'));

    redis_cli('main', 'SET', 'iot:device:str', 'not a hash');
    redis_cli('main', 'HSET', 'iot:device:badhash', 'hash', 'nothash');
    $out .= refused('a string key', redis_tool('disable', 'str'));

    $res = redis_tool('list');
    $out .= "list: exit $res->{rc}\n$res->{out}";

    write_html('result.txt', $out);
}

# logins, databases, a unix socket, and five runs adding one device
sub redis_access {
    my $auth = "127.0.0.1:$ENV{TEST_NGINX_REDIS_AUTH_PORT}";
    my $out = '';

    my $res = tool('-r', $auth, 'list');
    $out .= refused('no password', $res);

    $res = tool({ env => { IOT_AUTH_REDIS_PASSWORD => $Password } },
                '-r', $auth, 'add', 'a-1', '-C', '4');
    $out .= sprintf "password from the environment: exit %d\n", $res->{rc};

    write_file("$Dir/acl.pw", "$AclPassword\n");
    $res = tool('-r', $auth, '--user', 'fleet', '--password-file',
                "$Dir/acl.pw", 'add', 'a-2', '-C', '4');
    $out .= sprintf "ACL user, password file: exit %d\n", $res->{rc};

    $res = tool({ env => { IOT_AUTH_REDIS_PASSWORD => 'wrong' } },
                '-r', $auth, '--user', 'fleet', 'list');
    $out .= refused('wrong password', $res);

    $res = tool({ env => { IOT_AUTH_REDIS_PASSWORD => $Password } },
                '-r', $auth, 'list');
    $out .= "list: exit $res->{rc}\n$res->{out}";

    $res = redis_tool('add', 'd-3', '-C', '4', '--db', '3');
    $out .= sprintf "--db 3: exit %d, key in db 3: %s\n", $res->{rc},
                    redis_cli('main', '-n', 3, 'EXISTS', 'iot:device:d-3');

    $res = tool('-r', "unix:$ENV{TEST_NGINX_REDIS_SOCKET}", '--prefix',
                'tenant:*:', 'add', 't-1', '-C', '4');
    $out .= sprintf "unix socket, prefix: exit %d, key: %s\n", $res->{rc},
                    redis_cli('main', 'EXISTS', 'tenant:*:t-1');
    redis_cli('main', 'HSET', 'tenant:x:t-2', 'hash', 'x');
    $res = redis_tool('--prefix', 'tenant:*:', 'list');
    $out .= "list of \"tenant:*:\": $res->{out}";

    $out .= refused('bad address', tool('-r', 'localhost:port', 'list'));

    my @runs = map { tool_start({}, '-r',
                                "127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT}",
                                'add', 'once', '-C', '4') } 1 .. 5;
    my @res = map { tool_result($_) } @runs;
    $out .= sprintf "five adds of one device: %d added, %d already in\n",
                    scalar(grep { $_->{rc} eq '0' } @res),
                    scalar(grep { $_->{rc} eq '1'
                                  && said($_) =~ /is already in redis/ }
                           @res);

    write_html('result.txt', $out);
}

master_on();
workers(1);
repeat_each(1);
no_shuffle();
no_long_string();
log_level('info');

my $file_http_config = "    iot_auth_zone zone=iot:1m;\n";

my $file_config = <<'_EOC_';
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=$TEST_NGINX_CREDS;
        add_header X-Result $iot_auth_result always;
        add_header X-Perms $iot_auth_perms always;
        empty_gif;
    }
_EOC_

my $redis_http_config = <<'_EOC_';
    iot_auth_zone zone=iot:1m ttl=30s;
    iot_auth_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT revoke_channel=iot:revoke;
_EOC_

(my $redis_config = $file_config)
    =~ s/file=\$TEST_NGINX_CREDS/redis/;

# the blocks named "Redis: ..." ask Redis, the others the file
add_block_preprocessor(sub {
    my ($block) = @_;

    my $redis = $block->name =~ /^TEST \d+: Redis: /;

    $block->set_value(main_config => 'thread_pool iot_auth threads=2;')
        if !defined $block->main_config;
    $block->set_value(http_config => $redis ? $redis_http_config
                                            : $file_http_config)
        if !defined $block->http_config;
    $block->set_value(config => $redis ? $redis_config : $file_config)
        if !defined $block->config;
    $block->set_value(request => "GET /result.txt\n")
        if !defined $block->request;
    $block->set_value(no_error_log => "[alert]\n[crit]\n[emerg]\n")
        if !defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: add makes a secret, prints it once; after a reload it gets in
--- init
::file_add();
--- response_body
add: exit 0, a secret of 32 hex digits: yes
reminds of the reload: yes
the old bytes, a newline, the new line: yes
cost 10 by default: yes
owner and mode kept: yes
before reload 401 UNKNOWN
after reload 200 MISS perms=5
wrong secret 401 DENIED
old-1 200 MISS perms=3
old-2 200 MISS perms=0



=== TEST 2: rotate: after the reload the old secret is refused, the new one in
--- init
::file_rotate();
--- response_body
rotate: exit 0, a new secret: yes
only the hash changed, to cost 5: yes
before reload, old secret 200 MISS perms=5
after reload, old secret 401 DENIED
after reload, new secret 200 MISS perms=5



=== TEST 3: disable comments the line out, enable restores it byte for byte
--- init
::file_disable_enable();
--- response_body
disable: exit 0
the line behind "#disabled: ": yes
disabled 401 UNKNOWN
old-1 200 MISS perms=3
list: dev-1 5 0x5 disabled
disable again: exit 0: device "dev-1" is already disabled, line 6
enable: exit 0
the file as before "disable": yes
enabled 200 MISS perms=5
enable again: exit 0: device "dev-1" is already enabled, line 6



=== TEST 4: perms, and secrets given on stdin and on the command line
--- init
::file_perms_given();
--- response_body
perms: exit 0
only the perms changed: yes
add --stdin: exit 0, stdout empty: yes
add -i, a CRLF line: exit 0
add --secret: exit 0, stdout empty: yes
new perms 200 MISS perms=16
stdin 200 MISS perms=0
crlf 200 MISS perms=0
argv 200 MISS perms=0



=== TEST 5: delete leaves the other lines as they were
--- init
::file_delete();
--- response_body
delete dev-1: exit 0
delete dev-2: exit 0
delete dev-3: exit 0
delete dev-4: exit 0
the old bytes and a newline: yes
deleted 401 UNKNOWN
old-1 200 MISS perms=3
delete again: exit 1: no device "dev-1" in "$TEST_NGINX_CREDS"



=== TEST 6: runs at the same time lose no change
--- init
::file_concurrent();
--- response_body
ten devices: exit 0 x10
one device five times: 1 added, 4 already in
lines added: 11
the old bytes first: yes
ten devices: 200 x10
same 200 MISS perms=0



=== TEST 7: what the module would refuse: an error, a non-zero exit, no change
--- init
::file_invalid();
--- response_body
bad id: exit 2: invalid device id of 6 bytes: a device id is 1 to 128 bytes of visible ASCII
long id: exit 2: invalid device id of 129 bytes: a device id is 1 to 128 bytes of visible ASCII
comment id: exit 2: device id "#dev" cannot be in a credentials file: the module would read its line as a comment
bad perms: exit 2: invalid perms: a perms mask is a decimal or "0x" hexadecimal 32-bit number
perms over 32 bits: exit 2: invalid perms: a perms mask is a decimal or "0x" hexadecimal 32-bit number
perms command: exit 2: invalid perms: a perms mask is a decimal or "0x" hexadecimal 32-bit number
cost 3: exit 2: invalid cost "3": bcrypt's cost must be 4 to 31
cost 32: exit 2: invalid cost "32": bcrypt's cost must be 4 to 31
secret of 73: exit 2: invalid secret: a secret is 1 to 72 bytes of visible ASCII
empty secret: exit 2: invalid secret: a secret is 1 to 72 bytes of visible ASCII
secret with a space: exit 2: invalid secret: a secret is 1 to 72 bytes of visible ASCII
rotate unknown: exit 1: no device "nobody" in "$TEST_NGINX_CREDS"
disable unknown: exit 1: no device "nobody" in "$TEST_NGINX_CREDS"
perms unknown: exit 1: no device "nobody" in "$TEST_NGINX_CREDS"
add existing: exit 1: device "old-1" is already in "$TEST_NGINX_CREDS", line 3
no device: exit 2: "rotate" takes one device id
two stores: exit 2: give one store: --file PATH or --redis ADDRESS
redis option: exit 2: --prefix is an option of --redis
stdin, 73 bytes: exit 2: invalid secret: a secret is 1 to 72 bytes of visible ASCII
stdin, empty: exit 2: invalid secret: a secret is 1 to 72 bytes of visible ASCII
file untouched: yes
a bad line: exit 1: invalid bcrypt hash in "$TEST_NGINX_CREDS_DIR/bad.creds" line 3: nginx would refuse this file
bad file untouched: yes
a device twice: exit 1: device "twice" is twice in "$TEST_NGINX_CREDS_DIR/bad.creds", lines 1 and 2: nginx would refuse this file
no file: exit 1: cannot open "$TEST_NGINX_CREDS_DIR/none.creds": No such file or directory ("add --create" creates it)
create, but not add: exit 2: --create goes with --file and "add"
--create: exit 0, mode 0600, one line: yes



=== TEST 8: list shows no secret and no hash unless asked; links are followed
--- init
::file_list();
--- response_body
list: exit 0
old-1 4 0x3 enabled
old-2 4 0x0 enabled
no hash shown: yes
--hashes shows them: yes
through a link: exit 0, still a link: yes, the file changed: yes
temporary files left: 0



=== TEST 9: Redis: add, and nginx lets the device in
--- init
::redis_add();
--- response_body
add: exit 0, a secret: yes
record: hash HASH perms 3
r-1 200 MISS perms=3
r-1 wrong 401 DENIED
add again: exit 1: device "r-1" is already in redis, key "iot:device:r-1"
list: exit 0
r-1 4 0x3 enabled
r-2 4 0x0 enabled
r-3 4 0x10 enabled



=== TEST 10: Redis: rotate with a revoke channel drops a cached verdict at once
--- init
::redis_rotate();
--- response_body
prime r-1 200 MISS perms=3
cached r-1 200 HIT perms=3
prime r-2 200 MISS perms=0
nginx subscribed: yes
rotate: exit 0, a new secret: yes
said: published "r-1" on "iot:revoke" to 1 subscriber
old secret 401 DENIED
within a second, not the ttl: yes
new secret 200 MISS perms=3
rotate without a channel: exit 0: no --revoke-channel: nginx keeps the verdicts it cached for "r-2" until their ttl ends
old secret, cached 200 HIT perms=0



=== TEST 11: Redis: disable, enable, perms and delete take effect at once
--- init
::redis_disable_delete();
--- response_body
prime r-1 200 MISS perms=3
prime r-3 200 MISS perms=16
nginx subscribed: yes
disable: exit 0, field: 1
disabled 401 UNKNOWN
list: r-1 4 0x3 disabled
enable: exit 0
enabled 200 MISS perms=3
perms: exit 0
new perms 200 MISS perms=48
delete: exit 0, key left: 0
deleted 401 UNKNOWN
delete again: exit 1: no device "r-1" in redis, key "iot:device:r-1"
rotate unknown: exit 1: no device "r-1" in redis, key "iot:device:r-1"
a string key: exit 1: redis key "iot:device:str" is a string, not the hash of a device: left alone
list: exit 0
badhash - 0x0 invalid
r-2 4 0x0 enabled
r-3 4 0x30 enabled
str - - invalid



=== TEST 12: Redis: passwords, ACL users, databases, a unix socket, races
--- init
::redis_access();
--- response_body
no password: exit 1: redis PING failed: NOAUTH Authentication required.
password from the environment: exit 0
ACL user, password file: exit 0
wrong password: exit 1: redis AUTH failed: WRONGPASS invalid username-password pair or user is disabled.
list: exit 0
a-1 4 0x0 enabled
a-2 4 0x0 enabled
--db 3: exit 0, key in db 3: 1
unix socket, prefix: exit 0, key: 1
list of "tenant:*:": t-1 4 0x0 enabled
bad address: exit 2: invalid redis address "localhost:port": use HOST, HOST:PORT or unix:/PATH
five adds of one device: 1 added, 4 already in

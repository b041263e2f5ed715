# TEST_NGINX_USE_VALGRIND with the real valgrind: nginx runs in the
# foreground under memcheck, is stopped after each block, and memcheck
# reports turn into failures (007-failures.t checks that path with a fake
# valgrind; here stock nginx must come out clean).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use FindBin;
use Test::More;

my $Root = abs_path("$FindBin::Bin/../..");
my $Fix = abs_path("$FindBin::Bin/fixtures");

plan skip_all => 'valgrind not installed'
    if system('valgrind --version >/dev/null 2>&1') != 0;
plan tests => 6;

chdir $Root or die "chdir $Root: $!";

my $opts = '--tool=memcheck --leak-check=full --show-possibly-lost=no '
           . "--suppressions=$Fix/nginx-core.supp";

for my $hup (0, 1) {
    my $dir = tempdir(CLEANUP => 1);
    my $mode = $hup ? 'HUP mode' : 'restart mode';

    local %ENV = %ENV;
    delete $ENV{$_} for grep { /^TEST_NGINX_/ } keys %ENV;
    $ENV{PERL5LIB} = "$Root/t/compat";
    $ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
    $ENV{TEST_NGINX_RANDOMIZE} = 1;
    $ENV{TEST_NGINX_VERBOSE} = 1;
    $ENV{TEST_NGINX_USE_VALGRIND} = $opts;
    $ENV{TEST_NGINX_USE_HUP} = 1 if $hup;

    my $out = `prove -v -e $^X $Fix/pass.tx 2>$dir/err`;
    my $status = $? >> 8;
    my $err = do { local (@ARGV, $/) = ("$dir/err"); <> } // '';

    is $status, 0, "$mode: stock nginx passes under valgrind"
        or diag "$out\n$err";
    like $err, qr/running: valgrind -q .*--suppressions=/,
         "$mode: nginx was started by valgrind";
    unlike $out, qr/valgrind reported/, "$mode: no memcheck report";
}

# HUP mode (use_hup() / TEST_NGINX_USE_HUP): later blocks rewrite nginx.conf
# and reload the running master instead of restarting it, so shared-memory
# zone state survives; must_die still stops it.

use FindBin;
use lib "$FindBin::Bin/../../t/compat";

BEGIN {
    $ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
    $ENV{TEST_NGINX_RANDOMIZE} = 1;
}

use Test::Nginx::Socket;

our ($Pid, $FreshPid);

sub master_pid {
    open my $in, '<', server_root() . '/logs/nginx.pid' or return 0;
    my $pid = <$in>;
    chomp $pid;
    return $pid;
}

use_hup();
repeat_each(1);

plan tests => 2 + 2 + 1 + 2 + 2 + 2;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: first start, master on, one request through the zone
--- init
$main::Pid = main::master_pid() or die "no master pid\n";
open my $in, '<', server_root() . '/conf/nginx.conf' or die "$!\n";
local $/;
die "HUP mode needs master_process on\n"
    if <$in> !~ /^master_process on;$/m;
--- http_config
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
--- config
    location = /lim.txt {
        limit_req zone=one;
    }
--- user_files
>>> lim.txt
first
--- request
GET /lim.txt
--- response_body
first



=== TEST 2: reload keeps the master and the zone: now limited
--- init
die "master restarted instead of reloading\n"
    if main::master_pid() != $main::Pid;
--- http_config
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
--- config
    location = /lim.txt {
        limit_req zone=one;
    }
--- user_files
>>> lim.txt
second
--- request
GET /lim.txt
--- error_code: 503
--- error_log
reconfiguring



=== TEST 3: no config: keep the running nginx as is
--- request
GET /lim.txt
--- error_code: 503



=== TEST 4: must_die stops the running master
--- config
    location = /t {
        no_such_directive;
    }
--- must_die
--- error_log
unknown directive "no_such_directive"



=== TEST 5: then a fresh master, fresh zone
--- init
$main::FreshPid = main::master_pid();
die "expected a new master\n" if $main::FreshPid == $main::Pid;
--- http_config
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
--- config
    location = /lim.txt {
        limit_req zone=one;
    }
--- user_files
>>> lim.txt
third
--- request
GET /lim.txt
--- response_body
third



=== TEST 6: and reloads again
--- init
die "master restarted instead of reloading\n"
    if main::master_pid() != $main::FreshPid;
--- config
    location = /t {
        return 200 "reloaded\n";
    }
--- request
GET /t
--- response_body
reloaded

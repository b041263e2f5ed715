use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(p_defaults p_config p_files p_req herds);

repeat_each($ENV{TEST_NGINX_REPEAT_EACH} || 1);
no_shuffle();
log_level('info');
check_accum_error_log();
worker_connections(1024);

our @Hashes = (
    '$2y$04$5YYkbXcUn2rZHBTWckUOS.a7locA.amKsRJNg.uuV40KxHnZCBUNq',
    '$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.',
    '$2y$04$eM.BX9L6OvpuTBGffuMc3eAL1XHFpl2qIUjhzGVtMKwtCsOPTL3hW',
);

# The blocks make all their requests for /p in --- init, so that with
# TEST_NGINX_REPEAT_EACH=2 every repetition sees the same zone.
add_block_preprocessor(sub {
    p_defaults(shift,
        http_config => "iot_auth_zone zone=tiny:32k;\n",
        config => p_config(zone => 'tiny'),
        user_files => p_files(map { "dev-$_:$Hashes[$_ % 3]" } 1 .. 300));
});

sub dev { ("dev-$_[0]", 'secret' . ($_[0] % 3 + 1)) }

# entries fit in 32k and evictions happened
our $Zone = "entries ([1-9]|[1-5][0-9])\nevictions [1-9][0-9]*\n";

run_tests();

__DATA__

=== TEST 1: 300 devices in a tiny zone
--- init
my @all = map { main::p_req(main::dev($_)) } 1 .. 300;
main::herds(map { [splice @all, 0, 30] } 1 .. 10);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body_like eval
["\\A200 x300\n\\z",
 "\\Amiss 300\nmatch 300\n$main::Zone\\z"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: a spray of unknown ids evicts no working device
--- init
main::herds([main::p_req(main::dev(1))], [main::p_req(main::dev(2))],
            map { my $r = $_;
                  ([map { main::p_req("ghost-$r-$_", 'x') } 1 .. 30],
                   [main::p_req(main::dev(1))]) } 1 .. 10);
IotAuthTest::replies_in('last.txt', [main::dev(1)], [main::dev(2)]);
--- request eval
["GET /init.txt", "GET /last.txt", "GET /status"]
--- response_body_like eval
["\\A200 x12\n401 x300\n\\z", "\\A200 HIT ok\n200 HIT ok\n\\z",
 "\\Ahit 12\nmiss 2\nunknown 300\nmatch 2\n$main::Zone\\z"]
--- no_error_log
[error]
[alert]
[crit]

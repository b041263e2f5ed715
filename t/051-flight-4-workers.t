use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(herd tally write_html);

# The single-flight herds of 050-flight.t with four workers: more
# doorbells, more workers joining one flight.

our $VG = $ENV{TEST_NGINX_USE_VALGRIND};

# bcrypt of "s3cret" at cost 12 (cost 10 under valgrind) and cost 10
our $SLOW = $VG ? '$2y$10$opcT441CQPmGUeyj37TSQuPYL0xwPR48/iX.sWTP1H/krKfDCyixe'
                : '$2y$12$VrY.mntx6iuaItsozOX7vu5ausDjfmVLEyVt3a2364JKtg239cx5C';
our $FAST = '$2y$10$opcT441CQPmGUeyj37TSQuPYL0xwPR48/iX.sWTP1H/krKfDCyixe';

our $HERD = $VG ? 20 : 200;
our $DEVICES = $VG ? 10 : 40;
our $WAIT = $VG ? 120 : 30;

our $Creds = "slow:$SLOW\n"
             . join '', map { sprintf "d%02d:$FAST\n", $_ } 1 .. $DEVICES;


master_on();
workers(4);
worker_connections(1024);
timeout($VG ? 60 : 10);
repeat_each(1);
no_shuffle();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', 'thread_pool iot_auth threads=2;');
    $block->set_value('http_config', "    iot_auth_zone zone=iot:1m ttl=60s;\n");
    $block->set_value('config', <<'_EOC_');
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        empty_gif;
    }

    location = /status {
        iot_auth_status;
    }
_EOC_
    $block->set_value('user_files', ">>> creds\n$Creds");
});

run_tests();

__DATA__

=== TEST 1: a herd for one cold device runs one bcrypt across four workers
--- init
my @r = IotAuthTest::herd(
    [ map { IotAuthTest::p_req('slow', 's3cret') } 1 .. $::HERD ],
    timeout => $::WAIT);
IotAuthTest::write_html('herd.txt', IotAuthTest::tally(@r));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:$::HERD\n\$",
 qr/(?ms)result="miss"\} 1\n.*outcome="match"\} 1\n.*outcome="mismatch"\} 0\n.*^iot_auth_flights\{zone="iot"\} 0\n.*^iot_auth_waiters\{zone="iot"\} 0$/]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: many devices with concurrent requests run one bcrypt each
--- init
my @reqs;
for my $i (1 .. 10) {
    push @reqs, map { IotAuthTest::p_req(sprintf('d%02d', $_), 's3cret') } 1 .. $::DEVICES;
}
IotAuthTest::write_html('herd.txt',
    IotAuthTest::tally(IotAuthTest::herd(\@reqs, timeout => $::WAIT)));
--- request eval
["GET /herd.txt", "GET /status"]
--- response_body_like eval
["^200:" . 10 * $::DEVICES . "\n\$",
 qr/(?ms)result="miss"\} $::DEVICES\n.*outcome="match"\} $::DEVICES\n.*outcome="mismatch"\} 0\n.*^iot_auth_flights\{zone="iot"\} 0\n.*^iot_auth_waiters\{zone="iot"\} 0$/]
--- no_error_log
[error]
[alert]
[crit]

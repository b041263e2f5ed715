use lib 't/lib';

BEGIN {
    my $nginx = $ENV{TEST_NGINX_BINARY} // 'nginx';

    if (`$nginx -V 2>&1` !~ /--with-http_ssl_module/) {
        require Test::More;
        Test::More::plan(skip_all => "$nginx is built without SSL");
    }
}

use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(block_defaults creds write_html);
use IotAuthCerts qw(make_ca make_cert);
use IotAuthRedis qw(free_port);
use File::Temp qw(tempdir);

# iot_auth_ssl_client_name: the device id must be named by the client
# certificate that nginx verified.  The certificates are made here: a
# fleet CA, two devices, and certificates that must not pass (another
# CA, two CNs, no CN, a CN with a NUL).  The TLS servers are in
# http_config; the default server forwards /as/NAME/PATH to the first
# one (ssl_verify_client optional) and /noca/NAME/PATH to the second
# (optional_no_ca), presenting certificate NAME, or none for "none": nginx
# is the TLS client, as a device would be.

repeat_each(1);
no_shuffle();
log_level('info');
check_accum_error_log();

our $Dir = tempdir('iot-mtls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{TEST_NGINX_CERTS} = $Dir;

make_ca($Dir, 'ca', '/CN=iot_auth test fleet CA');
make_ca($Dir, 'other-ca', '/CN=another CA');
make_cert($Dir, 'server', server => 1, subject => '/CN=localhost',
          san => 'DNS:localhost,IP:127.0.0.1');
make_cert($Dir, 'dev1', subject => '/O=fleet/CN=dev1',
          san => 'DNS:dev1,URI:urn:fleet:dev1');
make_cert($Dir, 'dev2', subject => '/O=fleet/CN=dev2',
          san => 'DNS:dev2,URI:urn:fleet:dev2');
make_cert($Dir, 'rogue', ca => 'other-ca', subject => '/CN=dev1',
          san => 'DNS:dev1');
make_cert($Dir, 'two-cn', subject => '/CN=dev1/CN=dev2');
make_cert($Dir, 'no-cn', subject => '/O=fleet',
          san => 'DNS:gateway.example,DNS:dev2,DNS:dev1');
make_cert($Dir, 'nul', subject => '/CN=dev1Zevil',
          patch => ['dev1Zevil', "dev1\0evil"]);
make_cert($Dir, 'bmp', subject => '/CN=dev1', bmp => 1);

our $Creds = <<'_EOC_';
dev1:$2y$04$5YYkbXcUn2rZHBTWckUOS.a7locA.amKsRJNg.uuV40KxHnZCBUNq
dev2:$2y$04$sdkA/b9zA0xRv4jlUsRXs.QUmSNIUMnq9byAhTMCqVTzb0CMYc4C.
urn:fleet:dev1:$2y$04$5YYkbXcUn2rZHBTWckUOS.a7locA.amKsRJNg.uuV40KxHnZCBUNq
_EOC_

# curl as the device: "NAME" presents certificate NAME ("none": none) to
# the first TLS server, with the id and token given; the statuses go to
# html/init.txt, on one line.
sub curl_steps {
    my @status;
    for my $step (@_) {
        my ($cert, $dev, $token) = @$step;
        my @tls = $cert eq 'none' ? ()
                  : ('--cert', "$Dir/$cert.crt", '--key', "$Dir/$cert.key");
        my $port = $ENV{TEST_NGINX_TLS_PORT};
        open my $curl, '-|', 'curl', '-s', '-k', '-o', '/dev/null',
             '-w', '%{http_code}', '--max-time', '10', @tls,
             '-H', "X-Device-Id: $dev", '-H', "X-Device-Token: $token",
             "https://127.0.0.1:$port/p"
            or die "curl: $!";
        local $/;
        push @status, <$curl>;
        close $curl;
    }
    write_html('init.txt', "@status\n");
}

add_block_preprocessor(sub {
    my $block = shift;

    block_defaults($block,
        user_files => ">>> p\nok\n>>> creds\n$Creds",
        response_body_filters => \&IotAuthTest::summary,
        http_config => <<'_EOC_',
    iot_auth_zone zone=iot:1m;

    server {
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;

        ssl_certificate $TEST_NGINX_CERTS/server.crt;
        ssl_certificate_key $TEST_NGINX_CERTS/server.key;
        ssl_client_certificate $TEST_NGINX_CERTS/ca.crt;
        ssl_verify_client optional;

        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_ssl_client_name cn;

        add_header X-Result $iot_auth_result always;
        add_header X-Verify $ssl_client_verify always;

        location = /p {
        }

        location = /dns {
            iot_auth_ssl_client_name san_dns;
            alias html/p;
        }

        location = /uri {
            iot_auth_ssl_client_name san_uri;
            alias html/p;
        }

        location = /off {
            iot_auth_ssl_client_name off;
            alias html/p;
        }

        location = /then-bound {
            iot_auth_ssl_client_name off;
            try_files /nowhere @bound;
        }

        location @bound {
            try_files /p =404;
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_NOCA_PORT ssl;

        ssl_certificate $TEST_NGINX_CERTS/server.crt;
        ssl_certificate_key $TEST_NGINX_CERTS/server.key;
        ssl_client_certificate $TEST_NGINX_CERTS/ca.crt;
        ssl_verify_client optional_no_ca;

        location = /p {
            iot_auth zone=iot;
            iot_auth_credentials file=../html/creds;
            iot_auth_ssl_client_name cn;
            add_header X-Result $iot_auth_result always;
            add_header X-Verify $ssl_client_verify always;
        }
    }
_EOC_
        config => <<'_EOC_');
    location ~ ^/as/none(?<path>/.*)$ {
        proxy_pass https://127.0.0.1:$TEST_NGINX_TLS_PORT$path;
        proxy_ssl_session_reuse off;
    }

    location ~ ^/as/(?<cert>[a-z0-9-]+)(?<path>/.*)$ {
        proxy_pass https://127.0.0.1:$TEST_NGINX_TLS_PORT$path;
        proxy_ssl_certificate $TEST_NGINX_CERTS/$cert.crt;
        proxy_ssl_certificate_key $TEST_NGINX_CERTS/$cert.key;
        proxy_ssl_session_reuse off;
    }

    location ~ ^/noca/(?<cert>[a-z0-9-]+)(?<path>/.*)$ {
        proxy_pass https://127.0.0.1:$TEST_NGINX_NOCA_PORT$path;
        proxy_ssl_certificate $TEST_NGINX_CERTS/$cert.crt;
        proxy_ssl_certificate_key $TEST_NGINX_CERTS/$cert.key;
        proxy_ssl_session_reuse off;
    }

    location = /plain {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_ssl_client_name cn;
        add_header X-Result $iot_auth_result always;
        alias html/p;
    }

    location = /status {
        iot_auth_status;
    }
_EOC_
});

# two free ports, the same for the whole file
$ENV{TEST_NGINX_TLS_PORT} = free_port();
$ENV{TEST_NGINX_NOCA_PORT} = free_port();

run_tests();

__DATA__

=== TEST 1: CN: another device's certificate costs no bcrypt
--- request eval
["GET /as/dev2/p", "GET /as/dev1/p", "GET /as/dev1/p", "GET /as/dev1/p",
 "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), main::creds("dev2", "secret2"),
 main::creds("dev1", "secret1"), main::creds("dev1", "secret1"), ""]
--- error_code eval
[403, 403, 200, 200, 200]
--- response_headers eval
["X-Result: FORBIDDEN\nX-Verify: SUCCESS",
 "X-Result: FORBIDDEN\nX-Verify: SUCCESS",
 "X-Result: MISS", "X-Result: HIT", ""]
--- response_body eval
["403 Forbidden\n", "403 Forbidden\n", "ok\n", "ok\n",
 "hit 1\nmiss 1\nforbidden 2\nmatch 1\nentries 1\n"]
--- error_log
iot_auth: device "dev1" rejected: client certificate CN "dev2" does not match
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: no certificate, or no TLS at all: 403; no credentials: 401 first
--- request eval
["GET /as/none/p", "GET /plain", "GET /as/none/p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), main::creds("dev1", "secret1"), "", ""]
--- error_code eval
[403, 403, 401, 200]
--- response_headers eval
["X-Result: FORBIDDEN\nX-Verify: NONE", "X-Result: FORBIDDEN",
 "X-Result: DENIED", ""]
--- response_body eval
["403 Forbidden\n", "403 Forbidden\n", "401 Authorization Required\n",
 "denied 1\nforbidden 2\n"]
--- error_log
iot_auth: device "dev1" rejected: client certificate not verified: NONE
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: a certificate of another CA: nginx refuses it, or the module does
--- request eval
["GET /noca/rogue/p", "GET /as/rogue/p", "GET /noca/dev1/p", "GET /status"]
--- more_headers eval
[(main::creds("dev1", "secret1")) x 3, ""]
--- error_code eval
[403, 400, 200, 200]
--- response_headers eval
["X-Result: FORBIDDEN\nX-Verify: FAILED:unable to verify the first certificate",
 "!X-Result", "X-Result: MISS\nX-Verify: SUCCESS", ""]
--- response_body eval
["403 Forbidden\n", "400 The SSL certificate error\n", "ok\n",
 "miss 1\nforbidden 1\nmatch 1\nentries 1\n"]
--- error_log
iot_auth: device "dev1" rejected: client certificate not verified: FAILED:unable to verify the first certificate
--- no_error_log
[alert]
[crit]



=== TEST 4: CN: two of them
--- request eval
["GET /as/two-cn/p", "GET /status"]
--- more_headers eval
[main::creds("dev1", "secret1"), ""]
--- error_code eval
[403, 200]
--- response_headers eval
["X-Result: FORBIDDEN", ""]
--- response_body eval
["403 Forbidden\n", "forbidden 1\n"]
--- error_log
iot_auth: device "dev1" rejected: client certificate has more than one CN
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: CN: none
--- request
GET /as/no-cn/p
--- more_headers eval
main::creds("dev1", "secret1")
--- error_code: 403
--- response_headers
X-Result: FORBIDDEN
--- error_log
iot_auth: device "dev1" rejected: client certificate has no CN
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: CN: a NUL in it cannot cut it short
--- request
GET /as/nul/p
--- more_headers eval
main::creds("dev1", "secret1")
--- error_code: 403
--- response_headers
X-Result: FORBIDDEN
--- error_log
iot_auth: device "dev1" rejected: client certificate CN "dev1%00evil" does not match
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: CN: a BMPString is read as text
--- request
GET /as/bmp/p
--- more_headers eval
main::creds("dev1", "secret1")
--- response_headers
X-Result: MISS
--- response_body
ok
--- no_error_log
rejected
[error]
[alert]
[crit]



=== TEST 8: subjectAltName DNS: any of the names may be the device
--- request eval
["GET /as/dev2/dns", "GET /as/two-cn/dns", "GET /as/dev1/dns",
 "GET /as/no-cn/dns", "GET /as/no-cn/dns"]
--- more_headers eval
[main::creds("dev1", "secret1"), main::creds("dev1", "secret1"),
 main::creds("dev1", "secret1"), main::creds("dev1", "secret1"),
 main::creds("dev2", "secret2")]
--- error_code eval
[403, 403, 200, 200, 200]
--- response_headers eval
["X-Result: FORBIDDEN", "X-Result: FORBIDDEN", "X-Result: MISS",
 "X-Result: HIT", "X-Result: MISS"]
--- error_log
iot_auth: device "dev1" rejected: client certificate DNS name "dev2" does not match
--- no_error_log
[error]
[alert]
[crit]



=== TEST 9: subjectAltName URI, a device id with ':'
--- request eval
["GET /as/dev2/uri", "GET /as/no-cn/uri", "GET /as/dev1/uri",
 "GET /as/dev1/uri"]
--- more_headers eval
[(main::creds("urn:fleet:dev1", "secret1")) x 2,
 main::creds("urn:fleet:dev1", "secret1"), main::creds("dev1", "secret1")]
--- error_code eval
[403, 403, 200, 403]
--- response_headers eval
["X-Result: FORBIDDEN", "X-Result: FORBIDDEN", "X-Result: MISS",
 "X-Result: FORBIDDEN"]
--- error_log
iot_auth: device "urn:fleet:dev1" rejected: client certificate URI name "urn:fleet:dev2" does not match
--- no_error_log
[error]
[alert]
[crit]



=== TEST 10: "off" here; a redirect into a location that binds checks again
--- request eval
["GET /as/dev2/off", "GET /as/dev2/then-bound", "GET /as/dev1/then-bound",
 "GET /status"]
--- more_headers eval
[(main::creds("dev1", "secret1")) x 3, ""]
--- error_code eval
[200, 403, 200, 200]
--- response_headers eval
["X-Result: MISS", "X-Result: FORBIDDEN", "X-Result: HIT", ""]
--- response_body eval
["ok\n", "403 Forbidden\n", "ok\n", "hit 2\nmiss 1\nmatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 11: curl as the device
--- init
main::curl_steps(['dev1', 'dev1', 'secret1'], ['dev2', 'dev1', 'secret1'],
                 ['none', 'dev1', 'secret1'], ['dev1', 'dev1', 'wrong']);
--- request eval
["GET /init.txt", "GET /status"]
--- response_body eval
["200 403 403 401\n", "miss 1\ndenied 1\nforbidden 2\nmatch 1\nmismatch 1\nentries 1\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 12: bad values
--- config
    location = /p {
        iot_auth_ssl_client_name common_name;
    }
--- must_die
--- error_log
invalid value "common_name"

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use IotAuthTest qw(block_defaults);
use File::Temp qw(tempdir);
use MIME::Base64 qw(encode_base64);

# iot_auth_basic: the device id and token from "Authorization: Basic"
# when the device headers are absent, and a Basic challenge with every
# 401.  The credentials file is made here by htpasswd -B, as an
# administrator moving from auth_basic would have it.  TEST 7, 9 and 10
# run over HTTP/1.1 only (--- no_http2): they read the raw response
# headers, or the line nginx's HTTP/1 parser logs for a repeated header.

repeat_each(1);
no_shuffle();
log_level('info');
check_accum_error_log();

our $Htpasswd = do {
    my $dir = tempdir('iot-basic-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $file = "$dir/htpasswd";

    for (['-cbB', 'dev1', 'secret1'], ['-bB', 'dev2', 'secret2']) {
        my ($opts, $user, $password) = @$_;
        my $out = `htpasswd $opts -C 4 $file $user $password 2>&1`;
        die "htpasswd failed: $out" if $?;
    }

    open my $fh, '<', $file or die "$file: $!";
    local $/;
    <$fh>;
};

# "Authorization: Basic" with these bytes, base64-encoded
sub basic {
    return "Authorization: Basic " . encode_base64($_[0], '') . "\n";
}

sub creds {
    return "X-Device-Id: $_[0]\nX-Device-Token: $_[1]\n";
}

# Unless a block says otherwise: /p behind iot_auth with iot_auth_basic
# "fleet", $iot_auth_result in X-Result, $iot_auth_device in X-Device and
# $remote_user in X-User; /status summarized.
add_block_preprocessor(sub {
    block_defaults(shift,
        user_files => ">>> p\nok\n>>> creds\n$Htpasswd",
        response_body_filters => \&IotAuthTest::summary,
        config => <<'_EOC_');
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_basic fleet;
        add_header X-Result $iot_auth_result always;
        add_header X-Device $iot_auth_device always;
        add_header X-User $remote_user always;
    }

    location = /status {
        iot_auth_status;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a device sends its id and token as Basic credentials
--- request eval
["GET /p", "GET /p", "GET /p", "GET /status"]
--- more_headers eval
[main::basic("dev1:secret1"), main::basic("dev1:secret1"),
 main::basic("dev2:secret2"), ""]
--- response_headers eval
["X-Result: MISS\nX-Device: dev1\nX-User: dev1\n!WWW-Authenticate",
 "X-Result: HIT\nX-Device: dev1",
 "X-Result: MISS\nX-Device: dev2",
 "!X-Result"]
--- response_body eval
["ok\n", "ok\n", "ok\n", "hit 1\nmiss 2\nmatch 2\nentries 2\n"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: every 401 carries the challenge
--- request eval
["GET /p", "GET /p", "GET /p", "GET /p", "GET /p", "GET /status"]
--- more_headers eval
[main::basic("dev1:wrong"), main::basic("dev1:wrong"),
 main::basic("ghost:secret1"), "", main::creds("dev1", "wrong"), ""]
--- error_code eval
[401, 401, 401, 401, 401, 200]
--- response_headers eval
["X-Result: DENIED\nX-Device: dev1\nWWW-Authenticate: Basic realm=\"fleet\"",
 "X-Result: NEGATIVE\nWWW-Authenticate: Basic realm=\"fleet\"",
 "X-Result: UNKNOWN\nWWW-Authenticate: Basic realm=\"fleet\"",
 "X-Result: DENIED\nX-Device: \nWWW-Authenticate: Basic realm=\"fleet\"",
 "X-Result: NEGATIVE\nWWW-Authenticate: Basic realm=\"fleet\"",
 "!WWW-Authenticate"]
--- response_body eval
[("401 Authorization Required\n") x 5,
 "negative 2\ndenied 2\nunknown 1\nmismatch 1\nentries 2\n"]
--- error_log
iot_auth: device "dev1" rejected: wrong token
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: the device headers win over Basic credentials
--- request eval
["GET /p", "GET /p"]
--- more_headers eval
[main::creds("dev1", "secret1") . main::basic("dev2:wrong"),
 main::creds("dev1", "wrong") . main::basic("dev1:secret1")]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Result: MISS\nX-Device: dev1\nX-User: dev2",
 "X-Result: DENIED\nX-Device: dev1\nWWW-Authenticate: Basic realm=\"fleet\""]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: one device header alone: the headers are read, Basic is not
--- request eval
["GET /p", "GET /p"]
--- more_headers eval
["X-Device-Id: dev1\n" . main::basic("dev1:secret1"),
 "X-Device-Token: secret1\n" . main::basic("dev1:secret1")]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Result: DENIED\nWWW-Authenticate: Basic realm=\"fleet\"",
 "X-Result: DENIED\nWWW-Authenticate: Basic realm=\"fleet\""]
--- error_log
iot_auth: no device id or token,
--- no_error_log
nor valid Basic
[error]
[alert]
[crit]



=== TEST 5: Authorization that holds no Basic pair: 401 with the challenge
--- request eval
[("GET /p") x 7]
--- more_headers eval
["Authorization: Basic !!!not-base64\n",
 "Authorization: Basic\n",
 "Authorization: Bearer c2VjcmV0MQ==\n",
 main::basic("dev1"),
 main::basic(":secret1"),
 main::basic(""),
 main::basic("dev1:")]
--- error_code eval
[(401) x 7]
--- response_headers eval
[("X-Result: DENIED\nX-Device: \nWWW-Authenticate: Basic realm=\"fleet\"") x 7]
--- error_log
iot_auth: no device id or token, nor valid Basic credentials
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: Basic credentials that break the device rules: 400
--- request eval
[("GET /p") x 5]
--- more_headers eval
[main::basic("dev 1:secret1"),
 main::basic("dev1\0:secret1"),
 main::basic("d\xc3\xa9v1:secret1"),
 main::basic("dev1:secret 1"),
 main::basic("dev1:" . "x" x 73)]
--- error_code eval
[(400) x 5]
--- response_headers eval
[("X-Result: DENIED\n!WWW-Authenticate") x 5]
--- error_log
iot_auth: malformed device id of 5 bytes
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: two Authorization headers are refused by nginx itself
--- no_http2
--- request
GET /p
--- more_headers eval
main::basic("dev1:secret1") . main::basic("dev2:secret2")
--- error_code: 400
--- response_headers
!X-Result
!WWW-Authenticate
--- error_log
client sent duplicate header line: "Authorization:
--- no_error_log
iot_auth:
[error]
[alert]
[crit]



=== TEST 8: iot_auth_basic is off by default, and "off" cancels it
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        add_header X-Result $iot_auth_result always;
    }

    location = /off {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_basic off;
        add_header X-Result $iot_auth_result always;
        alias html/p;
    }

    location = /dev2 {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_basic $http_x_realm;
        add_header X-Result $iot_auth_result always;
        alias html/p;
    }
--- request eval
["GET /p", "GET /off", "GET /dev2", "GET /dev2"]
--- more_headers eval
[main::basic("dev1:secret1"), main::basic("dev1:secret1"),
 "X-Realm: off\n" . main::basic("dev1:secret1"),
 "X-Realm: devices\n" . main::basic("dev1:secret1")]
--- error_code eval
[401, 401, 401, 200]
--- response_headers eval
["X-Result: DENIED\n!WWW-Authenticate",
 "X-Result: DENIED\n!WWW-Authenticate",
 "X-Result: DENIED\n!WWW-Authenticate",
 "X-Result: MISS"]
--- error_log
iot_auth: no device id or token,
--- no_error_log
nor valid Basic
[error]
[alert]
[crit]



=== TEST 9: the realm takes variables; quotes in it are escaped
--- no_http2
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_basic 'fleet "$http_x_site" \ gateway';
    }
--- request
GET /p
--- more_headers
X-Site: north
--- error_code: 401
--- raw_response_headers_like: WWW-Authenticate: Basic realm="fleet \\"north\\" \\\\ gateway"\r\n
--- no_error_log
[error]
[alert]
[crit]



=== TEST 10: server-level iot_auth_basic, one challenge after a redirect
--- no_http2
--- config
    iot_auth_basic fleet;

    error_page 401 /denied;

    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
    }

    location = /denied {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_basic "fleet denied";
    }
--- request
GET /p
--- more_headers eval
main::basic("dev1:wrong")
--- error_code: 401
--- raw_response_headers_like: WWW-Authenticate: Basic realm="fleet denied"\r\n
--- raw_response_headers_unlike: WWW-Authenticate.*WWW-Authenticate
--- no_error_log
[error]
[alert]
[crit]



=== TEST 11: 403 and 429 carry no challenge
--- config
    location = /p {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_basic fleet;
        iot_auth_require_perms 1;
        add_header X-Result $iot_auth_result always;
    }

    location = /locked {
        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_basic fleet;
        iot_auth_lockout failures=1 window=1m duration=1m;
        add_header X-Result $iot_auth_result always;
        alias html/p;
    }
--- request eval
["GET /p", "GET /locked", "GET /locked"]
--- more_headers eval
[main::basic("dev1:secret1"), main::basic("dev2:wrong"),
 main::basic("dev2:wrong-again")]
--- error_code eval
[403, 401, 429]
--- response_headers eval
["X-Result: FORBIDDEN\n!WWW-Authenticate",
 "X-Result: DENIED\nWWW-Authenticate: Basic realm=\"fleet\"",
 "X-Result: LOCKED\n!WWW-Authenticate"]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 12: satisfy any: the challenge goes with the 401, not with a 200
--- config
    location = /p {
        satisfy any;
        allow 10.0.0.0/8;
        deny all;

        iot_auth zone=iot;
        iot_auth_credentials file=../html/creds;
        iot_auth_basic fleet;
        add_header X-Result $iot_auth_result always;
    }
--- request eval
["GET /p", "GET /p"]
--- more_headers eval
[main::basic("dev1:wrong"), main::basic("dev1:secret1")]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Result: DENIED\nWWW-Authenticate: Basic realm=\"fleet\"",
 "X-Result: MISS\n!WWW-Authenticate"]
--- no_error_log
[error]
[alert]
[crit]

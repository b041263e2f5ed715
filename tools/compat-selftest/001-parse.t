# Block parsing and exports: a .t written for the real framework must read
# the same through the compat module.  Starts no nginx.

use FindBin;
use lib "$FindBin::Bin/../../t/compat";

BEGIN { $ENV{TEST_NGINX_RANDOMIZE} = 1 }

use Test::Nginx::Socket;

plan tests => 22;

my @b = blocks();

is scalar(@b), 2, 'two blocks';
is $b[0]->name, 'TEST 1: colon forms', 'block name';
is $b[0]->error_code, '401', 'colon form error_code has no newline';
is $b[0]->response_body_like, '^ok$', 'colon form response_body_like';
is $b[0]->timeout, '1.5', 'colon form timeout';
is $b[0]->response_body, "ok\n", 'multi-line body keeps one newline';
is $b[0]->more_headers, "X-Device-Id: dev1\nX-Token: letmein\n",
   'more_headers lines';
is $b[0]->config, "    location = /t {\n        return 401;\n    }\n",
   'config keeps its indentation';
ok !defined $b[0]->no_such_section, 'unknown section is undef';
is_deeply $b[1]->request, ['GET /a', 'GET /b'], 'request eval gives array';
is ref $b[1]->error_log, 'ARRAY', 'error_log eval array';
is ref $b[1]->error_log->[0], 'Regexp', 'qr// inside error_log eval';
is $b[1]->shutdown, '', 'empty section is an empty string';

for my $f (qw(run_tests repeat_each no_shuffle master_on workers log_level
              add_block_preprocessor html_dir))
{
    ok(main->can($f), "$f exported");
}

is prototype('main::add_block_preprocessor'), '&',
   'add_block_preprocessor takes a block';

__DATA__

=== TEST 1: colon forms
--- config
    location = /t {
        return 401;
    }
--- more_headers
X-Device-Id: dev1
X-Token: letmein
--- request
GET /t
--- error_code: 401
--- response_body_like: ^ok$
--- timeout: 1.5
--- response_body
ok

=== TEST 2: eval sections
--- request eval
["GET /a", "GET /b"]
--- error_log eval
[qr/foo \d+/, "bar"]
--- shutdown

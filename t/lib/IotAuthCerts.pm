package IotAuthCerts;

# Certificates for the TLS tests, made with the openssl command when the
# test starts, into a directory of the caller's: certificate authorities
# and certificates they sign, each NAME.crt with its key NAME.key.  Keys
# are P-256 and certificates last two days.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(make_ca make_cert);

# A self-signed CA certificate: make_ca(DIR, NAME, SUBJECT).

sub make_ca {
    my ($dir, $name, $subject) = @_;

    openssl('req', '-x509', config($dir, $name), new_key($dir, $name),
            '-subj', $subject, '-days', 2,
            '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
            '-out', "$dir/$name.crt");
}

# A certificate signed by a CA of make_ca: make_cert(DIR, NAME, %opts)
# with subject => '/CN=dev1' (required), ca => NAME (default 'ca'),
# san => 'DNS:dev1,URI:urn:x' (a subjectAltName extension), server => 1
# (for a TLS server rather than a client), bmp => 1 (the subject's
# strings as BMPString), patch => [FROM, TO] (bytes replaced in the
# request before it is signed, e.g. to put a NUL into a name, which the
# openssl command cannot write).

sub make_cert {
    my ($dir, $name, %opts) = @_;

    my $ca = $opts{ca} // 'ca';
    my $csr = "$dir/$name.csr";
    my @conf = config($dir, $name, $opts{bmp});

    openssl('req', '-new', @conf, new_key($dir, $name),
            '-subj', $opts{subject}, '-outform', 'DER', '-out', $csr);

    if ($opts{patch}) {
        my ($from, $to) = @{ $opts{patch} };
        die "patch must keep the length" if length $from != length $to;

        my $der = read_file($csr);
        $der =~ s/\Q$from\E/$to/ or die "\"$from\" is not in $csr";
        write_file($csr, $der);
    }

    my @ext = ('-addext', 'basicConstraints=critical,CA:FALSE',
               '-addext', 'extendedKeyUsage='
                          . ($opts{server} ? 'serverAuth' : 'clientAuth'));
    if ($opts{san}) {
        push @ext, '-addext', "subjectAltName=$opts{san}";
    }

    # "req -x509 -CA" takes the subject as it is and does not check the
    # request's own signature, which a patch breaks

    openssl('req', '-x509', @conf, '-in', $csr, '-inform', 'DER', @ext,
            '-CA', "$dir/$ca.crt", '-CAkey', "$dir/$ca.key", '-days', 2,
            '-out', "$dir/$name.crt");
}

# a configuration of our own: the system's openssl.cnf adds extensions

sub config {
    my ($dir, $name, $bmp) = @_;

    my $conf = "$dir/$name.cnf";
    write_file($conf, "[req]\ndistinguished_name = dn\n"
                      . ($bmp ? "string_mask = MASK:0x800\n" : '')
                      . "[dn]\n");

    return ('-config', $conf);
}

sub new_key {
    my ($dir, $name) = @_;

    return ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
            '-nodes', '-keyout', "$dir/$name.key");
}

sub openssl {
    my @args = @_;

    my $cmd = join ' ', map { quotemeta } 'openssl', @args;
    my $out = `$cmd 2>&1 </dev/null`;
    die "openssl @args failed:\n$out" if $?;
}

sub read_file {
    my ($path) = @_;

    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    return <$fh>;
}

sub write_file {
    my ($path, $data) = @_;

    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $data;
    close $fh or die "$path: $!";
}

1;

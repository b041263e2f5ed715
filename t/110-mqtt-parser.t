#!/usr/bin/perl

# The MQTT CONNECT parser and CONNACK builder, unit by unit: the checks
# are the C program t/unit/mqtt_connect.c, which make test builds into
# build/unit/mqtt_connect with the sanitizers; this file runs it and its
# TAP is this file's.

use strict;
use warnings;

use FindBin;

my $bin = "$FindBin::Bin/../build/unit/mqtt_connect";

unless (-x $bin) {
    print "1..1\nnot ok 1 - $bin is built (make test builds it)\n";
    exit 1;
}

exec $bin or die "$bin: $!";

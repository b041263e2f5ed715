# The single-flight blocks of t/050-flight.t with four workers: more
# doorbells, more workers joining one flight.

our $Workers = 4;

do './t/050-flight.t';
die $@ if $@;

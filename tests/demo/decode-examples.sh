#!/bin/sh
# decode-examples.sh BUILD: what `make demo` shows until the daemons can run
# a handover: each example message of examples/messages/ encoded to octets
# and decoded again, so a newcomer sees the wire and its meaning side by side.
set -eu
B=${1:-build}
for j in examples/messages/*.json; do
	name=$(basename "$j" .json)
	hex=$("$B/ctpctl" encode --json --hex "$j")
	echo "=== $name ($(( ${#hex} / 2 )) octets)"
	echo "$hex" | fold -w 64 | sed 's/^/  /'
	"$B/ctpctl" decode --hex "$hex" | sed 's/^/  /'
	echo
done

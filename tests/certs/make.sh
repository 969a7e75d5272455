#!/bin/sh
# tests/certs/make.sh: test PKI for the TLS channel (unit tests and the demo).
#
#   tests/certs/make.sh DIR [NODE...]        (default nodes: par nar sg1)
#
# Creates in DIR, with the openssl command line only:
#   ca.pem ca.key                 the test CA (ECDSA P-256)
#   NODE.pem NODE.key             per node: ECDSA P-256, signed by the CA,
#                                 SAN DNS:NODE, CN=NODE, for client and
#                                 server authentication
#   rogue-ca.pem rogue-ca.key     another CA, trusted by nobody
#   rogue-par.pem rogue-par.key   a certificate for "par" signed by the rogue
#                                 CA: right name, wrong issuer
#
# Keys are generated on every run and never committed: DIR should be a
# temporary or ignored folder.  Private keys are created mode 0600.
set -eu

if [ $# -lt 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR [NODE...]" >&2
	exit 2
fi
dir=$1
shift
[ $# -gt 0 ] || set -- par nar sg1
# Node names become file names and DNS names: keep them to both alphabets.
for n in "$@"; do
	case $n in
	*[!A-Za-z0-9.-]* | "" | -* | rogue-*)
		echo "$0: bad node name '$n' (letters, digits, '.', '-'; not rogue-*)" >&2
		exit 2
		;;
	esac
done

OPENSSL=${OPENSSL:-openssl}
umask 077
mkdir -p "$dir"
# Quiet unless something fails: openssl's chatter would hide test output.
log="$dir/make.log"
: > "$log"

run() {
	if ! "$OPENSSL" "$@" >>"$log" 2>&1; then
		echo "$0: openssl $1 failed:" >&2
		cat "$log" >&2
		exit 1
	fi
}

key() {
	run genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

# ca NAME SUBJECT
ca() {
	key "$dir/$1.key"
	run req -new -x509 -sha256 -days 3650 -key "$dir/$1.key" -out "$dir/$1.pem" \
	    -subj "$2" \
	    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -addext "subjectKeyIdentifier=hash"
}

# leaf FILE NAME CA: a certificate for NAME (SAN DNS:NAME) signed by CA.
leaf() {
	key "$dir/$1.key"
	run req -new -sha256 -key "$dir/$1.key" -out "$dir/$1.csr" -subj "/O=ctpd test/CN=$2"
	cat > "$dir/$1.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$2
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
	run x509 -req -sha256 -days 825 -in "$dir/$1.csr" -CA "$dir/$3.pem" \
	    -CAkey "$dir/$3.key" -CAserial "$dir/$3.srl" -CAcreateserial \
	    -extfile "$dir/$1.ext" -out "$dir/$1.pem"
	rm -f "$dir/$1.csr" "$dir/$1.ext"
}

ca ca "/O=ctpd test/CN=ctpd test CA"
ca rogue-ca "/O=ctpd rogue/CN=ctpd rogue CA"
for n in "$@"; do
	leaf "$n" "$n" ca
done
leaf rogue-par par rogue-ca
chmod 0644 "$dir"/*.pem
rm -f "$log"

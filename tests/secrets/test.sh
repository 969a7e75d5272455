#!/bin/bash
# tests/secrets/test.sh: tests/secrets/grep-keys.sh finds a key in every form
# it promises (hex in either case, separated hex, base64 at each alignment
# inside a longer encoding, raw octets inside a binary file) and stays quiet
# about files without it, including files with other keys and a key that
# is only almost there.
set -u
cd "$(dirname "$0")/../.." || exit 2
G=tests/secrets/grep-keys.sh
tmp=$(mktemp -d /tmp/grep-keys-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

KEY=7f3a9c01d2e4b5a6c7d8e9f00112233445566778
hex() { printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
printf '# the keys of this test\n%s\n' "$KEY" > "$tmp/keys.txt"

case_dir() {   # name: a fresh folder with a harmless log in it
	mkdir -p "$tmp/$1"
	printf 'ctpd: transfer mn=192.0.2.10 id=00aa: held -> committed\n' > "$tmp/$1/ctpd.log"
	echo "$tmp/$1"
}

expect() {   # name form-substring
	local out rc
	out=$("$G" "$tmp/$1" "$tmp/keys.txt" 2>&1)
	rc=$?
	if [ $rc = 1 ] && echo "$out" | grep -q "as $2" && ! echo "$out" | grep -q "$KEY"; then
		ok
	else
		bad "$1: rc $rc, expected a finding as $2 (and no whole key): $out"
	fi
}

d=$(case_dir clean)
printf 'other key 00112233445566778899aabbccddeeff, %s\n' "${KEY:0:30}" >> "$d/ctpd.log"
out=$("$G" "$d" "$tmp/keys.txt" 2>&1) && ok || bad "clean: $out"

d=$(case_dir lower)
echo "debug: key $KEY" >> "$d/ctpd.log"
expect lower "hex text"

d=$(case_dir upper)
echo "{\"key\": \"$(echo "$KEY" | tr a-f A-F)\"}" > "$d/reply.json"
expect upper "hex text"

d=$(case_dir colon)
echo "cxtp.ipsec.key: $(echo "$KEY" | sed 's/../&:/g; s/:$//')" > "$d/tshark.txt"
expect colon "separated hex"

for pre in 0 1 2; do
	d=$(case_dir b64-$pre)
	{ head -c $pre /dev/zero; hex "$KEY"; printf 'tail'; } | base64 -w0 > "$d/blob.b64"
	expect b64-$pre "base64"
done

d=$(case_dir raw)
{ head -c 37 /dev/urandom; hex "$KEY"; head -c 11 /dev/urandom; } > "$d/capture.pcap"
expect raw "raw octets"

# the key file itself, inside the searched folder, is not a finding
d=$(case_dir self)
cp "$tmp/keys.txt" "$d/keys.txt"
out=$("$G" "$d" "$d/keys.txt" 2>&1) && ok || bad "the key file was searched: $out"

"$G" "$tmp/clean" /dev/null > /dev/null 2>&1; [ $? = 2 ] && ok || bad "a key file without keys is not a usage error"

echo "grep-keys: $pass passed, $fail failed"
[ $fail -eq 0 ]

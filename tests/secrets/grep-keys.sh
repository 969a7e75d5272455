#!/bin/bash
# tests/secrets/grep-keys.sh DIR KEYFILE...: no key appears in what a run left.
#
# DIR holds the logs and outputs of a run (searched recursively, text and
# binary files alike: logs, ctpctl and ctpmn outputs, captures).  Each
# KEYFILE names keys the run used, in hex: every run of 16 or more hex digits
# in it is one key (so a file of "KEYHEX" lines, `ctpmn keys` output "ADDR
# KEYHEX" and `ctpmn keys --json` all work; a KEYFILE inside DIR is skipped
# when DIR is searched).  A key is found when a file holds it as
#   - hex, in either case, as one run or with its octets separated by ':',
#     ' ' or '-';
#   - base64, at any of the three alignments inside a longer encoding;
#   - its raw octets.
# Each finding is one line "FILE: key 0123abcd... (N octets) as FORM" (the
# key is never printed whole); the exit status is 1 when anything was found,
# 0 when nothing, 2 on a usage error.  bash, od, base64 (coreutils), grep.
set -u
if [ $# -lt 2 ] || [ ! -d "$1" ]; then
	echo "usage: $0 DIR KEYFILE..." >&2
	exit 2
fi
dir=$1
shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grep-keys.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# the keys, one lowercase hex run a line, duplicates dropped
for f in "$@"; do
	[ -r "$f" ] || { echo "grep-keys: cannot read $f" >&2; exit 2; }
	grep -o -i -E '[0-9a-f]{16,}' "$f"
done | tr 'A-F' 'a-f' | awk 'length % 2 == 0' | sort -u > "$tmp/keys"
nkeys=$(wc -l < "$tmp/keys")
if [ "$nkeys" -eq 0 ]; then
	echo "grep-keys: no key (16 or more hex digits) in $*" >&2
	exit 2
fi

# every file of DIR but the key files, and a hex dump of each for the raw search
: > "$tmp/files"
find "$dir" -type f | sort | while read -r f; do
	skip=0
	for k in "$@"; do
		[ "$f" -ef "$k" ] && skip=1
	done
	[ $skip = 0 ] && echo "$f"
done > "$tmp/files"
i=0
while read -r f; do
	i=$((i + 1))
	od -An -v -tx1 "$f" | tr -d ' \n' > "$tmp/raw.$i"
done < "$tmp/files"

# the needles, "NEEDLE KEY FORM" a line: hex (either case), separated hex,
# base64 (the characters the key's octets alone decide, whatever comes
# before it: the key starting at octet 0, 1 or 2 of a group of three).
# One awk for all of them: a run may have used thousands of keys.
: > "$tmp/hexmap"
: > "$tmp/b64map"
awk -v hexmap="$tmp/hexmap" -v b64map="$tmp/b64map" '
BEGIN {
	B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for (i = 0; i < 16; i++)
		H[substr("0123456789abcdef", i + 1, 1)] = i
}
function octet(k, i) { return H[substr(k, 2 * i + 1, 1)] * 16 + H[substr(k, 2 * i + 2, 1)] }
function sep(k, c,    i, o) {
	o = substr(k, 1, 2)
	for (i = 3; i <= length(k); i += 2)
		o = o c substr(k, i, 2)
	return o
}
{
	k = $1
	n = length(k) / 2
	print k, k, "hex-text" > hexmap
	print sep(k, ":"), k, "separated-hex" > hexmap
	print sep(k, "-"), k, "separated-hex" > hexmap
	for (a = 0; a < 3; a++) {
		len = int((n - a) / 3) * 3
		if (len < 9)
			continue
		o = ""
		for (i = a; i < a + len; i += 3) {
			v = octet(k, i) * 65536 + octet(k, i + 1) * 256 + octet(k, i + 2)
			o = o substr(B, int(v / 262144) + 1, 1) substr(B, int(v / 4096) % 64 + 1, 1) \
			    substr(B, int(v / 64) % 64 + 1, 1) substr(B, v % 64 + 1, 1)
		}
		print o, k, "base64" > b64map
	}
}' "$tmp/keys"
cut -d' ' -f1 "$tmp/hexmap" > "$tmp/hexneedles"
cut -d' ' -f1 "$tmp/b64map" > "$tmp/b64needles"
# space-separated octets cannot be a field of the map: they are their own
sed 's/../& /g; s/ $//' "$tmp/keys" > "$tmp/spaceneedles"

found=0
report() {   # file, then "KEY FORM" lines on standard input
	local key form
	while read -r key form; do
		echo "$1: key ${key:0:8}... ($((${#key} / 2)) octets) as ${form//-/ }"
		found=1
	done
}

# matches (one a line, from grep -o) to "KEY FORM" through a map
lookup() {   # map [lowercase]
	awk -v low="${2:-}" 'NR == FNR { m[$1] = $2 " " $3; next }
	    { k = low ? tolower($0) : $0; if (k in m) print m[k] }' "$1" - | sort -u
}

i=0
while read -r f; do
	i=$((i + 1))
	report "$f" < <(grep -a -o -i -F -f "$tmp/hexneedles" "$f" | lookup "$tmp/hexmap" 1)
	report "$f" < <(grep -a -o -F -f "$tmp/b64needles" "$f" | lookup "$tmp/b64map")
	report "$f" < <(grep -a -o -i -F -f "$tmp/spaceneedles" "$f" | tr 'A-F ' 'a-f\n' |
	    paste -sd '' - | grep -o -F -f "$tmp/keys" | sed 's/$/ separated-hex/' | sort -u)
	report "$f" < <(grep -o -F -f "$tmp/keys" "$tmp/raw.$i" | sed 's/$/ raw-octets/' | sort -u)
done < "$tmp/files"

nfiles=$(wc -l < "$tmp/files")
if [ $found = 0 ]; then
	echo "grep-keys: none of $nkeys keys in $nfiles files of $dir"
	exit 0
fi
exit 1

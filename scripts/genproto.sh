#!/bin/sh
# genproto.sh [--check] TOPDIR: regenerate (or, with --check, verify) the
# views of proto/cxtp.def: the C header, the C tables and the generated part
# of wireshark/cxtp.lua (between the "BEGIN GENERATED" and "END GENERATED"
# lines).  --check exits 1 naming each stale file and what to run.
set -eu
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
top=${1:-.}
cd "$top"
def=proto/cxtp.def
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

awk -v out=h -f proto/gen.awk "$def" > "$tmp/ctp_proto.h"
awk -v out=c -f proto/gen.awk "$def" > "$tmp/ctp_proto.c"
awk -v out=lua -f proto/gen.awk "$def" > "$tmp/lua.part"

# Splice the Lua tables into the dissector, keeping everything around them.
lua=wireshark/cxtp.lua
awk -v part="$tmp/lua.part" '
	/^-- BEGIN GENERATED/ { print; while ((getline l < part) > 0) print l; skip = 1; found = 1; next }
	/^-- END GENERATED/ { skip = 0 }
	!skip { print }
	END { if (!found) { print "genproto: no -- BEGIN GENERATED marker in the dissector" > "/dev/stderr"; exit 1 } }
' "$lua" > "$tmp/cxtp.lua"

stale=0
for pair in "ctp_proto.h include/ctp/ctp_proto.h" "ctp_proto.c src/ctp/ctp_proto.c" "cxtp.lua $lua"; do
	set -- $pair
	if [ $check = 1 ]; then
		if ! cmp -s "$tmp/$1" "$2"; then
			echo "stale generated file: $2 (proto/cxtp.def changed; run 'make proto')" >&2
			stale=1
		fi
	elif ! cmp -s "$tmp/$1" "$2"; then
		cp "$tmp/$1" "$2"
		echo "  GEN    $2"
	fi
done
exit $stale

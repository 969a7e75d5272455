# proto/gen.awk: generate the C and Lua views of proto/cxtp.def.
#
#   awk -v out=h   -f proto/gen.awk proto/cxtp.def > include/ctp/ctp_proto.h
#   awk -v out=c   -f proto/gen.awk proto/cxtp.def > src/ctp/ctp_proto.c
#   awk -v out=lua -f proto/gen.awk proto/cxtp.def > (the generated part of wireshark/cxtp.lua)
#
# POSIX awk only (Debian's mawk runs it), so the build needs nothing beyond base.
# Any line it cannot understand stops the build with file:line.

function die(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
	failed = 1
	exit 1
}

function text(   s) {               # the "quoted" text at the end of the line
	if (match($0, /"([^"\\]|\\.)*"[ \t]*$/) == 0)
		die("missing \"text\" at the end of the line")
	s = substr($0, RSTART + 1, RLENGTH - 1)
	sub(/"[ \t]*$/, "", s)
	return s
}

function num(s) {                    # decimal or 0x hex
	if (s ~ /^0[xX][0-9a-fA-F]+$/) {
		return hex2dec(substr(s, 3))
	}
	if (s ~ /^[0-9]+$/)
		return s + 0
	die("not a number: " s)
}

function hex2dec(h,   i, d, c) {
	d = 0
	h = toupper(h)
	for (i = 1; i <= length(h); i++) {
		c = index("0123456789ABCDEF", substr(h, i, 1)) - 1
		d = d * 16 + c
	}
	return d
}

function hex4(n) { return sprintf("0x%04X", n) }

function cname(s) { gsub(/[^A-Za-z0-9]/, "_", s); return toupper(s) }

function luastr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function cstr(s) { return luastr(s) }

BEGIN { nconst = nflag = nfield = nmsg = nstatus = nfpt = ntlv = nf = nenum = 0 }

/^[ \t]*#/ || /^[ \t]*$/ { next }

$1 == "const" {
	nconst++; const_name[nconst] = $2; const_val[nconst] = $3; const_desc[nconst] = text()
	next
}
$1 == "flag" {
	nflag++; flag_name[nflag] = $2; flag_mask[nflag] = $3; flag_desc[nflag] = text()
	next
}
$1 == "field" {
	nfield++; field_name[nfield] = $2; field_kind[nfield] = $3; field_desc[nfield] = text()
	field_known[$2] = 1
	next
}
$1 == "msg" {
	nmsg++
	msg_type[nmsg] = num($2); msg_name[nmsg] = $3; msg_wire[nmsg] = $4; msg_x[nmsg] = $5
	msg_desc[nmsg] = text()
	msg_nf[nmsg] = 0
	for (i = 6; i <= NF && substr($i, 1, 1) != "\""; i++) {
		if (!($i in field_known))
			die("message field " $i " is not declared")
		msg_f[nmsg, ++msg_nf[nmsg]] = $i
	}
	if (msg_x[nmsg] != "A" && msg_x[nmsg] != "S" && msg_x[nmsg] != "-")
		die("X flag must be A, S or -")
	next
}
$1 == "status" {
	nstatus++; status_code[nstatus] = num($2); status_name[nstatus] = $3
	status_desc[nstatus] = text()
	next
}
$1 == "fpt" {
	nfpt++; fpt_val[nfpt] = num($2); fpt_name[nfpt] = $3; fpt_tlv[nfpt] = ($4 == "tlv")
	if ($4 != "tlv" && $4 != "raw")
		die("fpt data kind must be tlv or raw")
	fpt_desc[nfpt] = text(); fpt_idx[$3] = nfpt
	next
}
$1 == "enum" {
	if (!($2 in enum_seen)) { nenumset++; enumset[nenumset] = $2; enum_seen[$2] = 1 }
	nenum++; enum_set[nenum] = $2; enum_val[nenum] = num($3); enum_name[nenum] = $4
	enum_desc[nenum] = text()
	next
}
$1 == "tlv" {
	if (!($2 in fpt_idx))
		die("tlv for an undeclared fpt " $2)
	if (!fpt_tlv[fpt_idx[$2]])
		die("fpt " $2 " is not TLV-encoded")
	ntlv++; tlv_fpt[ntlv] = $2; tlv_type[ntlv] = num($3); tlv_name[ntlv] = $4
	tlv_occ[ntlv] = $5; tlv_min[ntlv] = $6 + 0; tlv_max[ntlv] = $7 + 0; tlv_desc[ntlv] = text()
	tlv_f0[ntlv] = nf + 1; tlv_nf[ntlv] = 0
	if ($5 != "once" && $5 != "required" && $5 != "repeat")
		die("occurs must be once, required or repeat")
	if (tlv_min[ntlv] > tlv_max[ntlv])
		die("min length above max length")
	if ((tlv_fpt[ntlv], tlv_type[ntlv]) in tlv_dup)
		die("duplicate TLV type")
	tlv_dup[tlv_fpt[ntlv], tlv_type[ntlv]] = 1
	next
}
$1 == "f" {
	if (ntlv == 0) die("field before any tlv")
	nf++; tlv_nf[ntlv]++
	f_name[nf] = $2; f_kind[nf] = $3; f_desc[nf] = text(); f_enum[nf] = ""
	k = $3
	if (k ~ /^u(8|16|32|64)$/) { f_k[nf] = "CTP_FK_" toupper(k); f_size[nf] = substr(k, 2) / 8; f_ref[nf] = "" }
	else if (k ~ /^rsv[0-9]+$/) { f_k[nf] = "CTP_FK_RSV"; f_size[nf] = substr(k, 4) + 0; f_ref[nf] = "" }
	else if (k == "addr") { f_k[nf] = "CTP_FK_ADDR"; f_size[nf] = 0; f_ref[nf] = "" }
	else if (k ~ /^addrs:/) { f_k[nf] = "CTP_FK_ADDRS"; f_size[nf] = 0; f_ref[nf] = substr(k, 7) }
	else if (k ~ /^bytes:[0-9]+$/) { f_k[nf] = "CTP_FK_BYTES"; f_size[nf] = substr(k, 7) + 0; f_ref[nf] = "" }
	else if (k == "bytes") { f_k[nf] = "CTP_FK_REST"; f_size[nf] = 0; f_ref[nf] = "" }
	else die("unknown field kind " k)
	next
}
$1 == "use" {
	found = 0
	for (i = tlv_f0[ntlv]; i <= nf; i++)
		if (f_name[i] == $2) { f_enum[i] = $3; found = 1 }
	if (!found) die("use: no field " $2 " in " tlv_name[ntlv])
	if (!($3 in enum_seen)) die("use: no enum " $3)
	next
}
{ die("unknown line kind " $1) }

# ----------------------------------------------------------------------------
END {
	if (failed) exit 1
	# resolve addrs:COUNT references to field indexes within their TLV
	for (t = 1; t <= ntlv; t++)
		for (i = tlv_f0[t]; i < tlv_f0[t] + tlv_nf[t]; i++) {
			f_refidx[i] = -1
			if (f_ref[i] == "") continue
			for (j = tlv_f0[t]; j < i; j++)
				if (f_name[j] == f_ref[i]) f_refidx[i] = j - tlv_f0[t]
			if (f_refidx[i] < 0) { print "proto: " tlv_name[t] ": no count field " f_ref[i] > "/dev/stderr"; exit 1 }
		}
	if (out == "h") gen_h()
	else if (out == "c") gen_c()
	else if (out == "lua") gen_lua()
	else { print "proto/gen.awk: set out=h, c or lua" > "/dev/stderr"; exit 1 }
}

function banner(c) {
	print c " Generated by proto/gen.awk from proto/cxtp.def: do not edit."
	print c " `make proto` regenerates it; `make check` fails when it is stale."
}

function gen_h(   i, t, e, s) {
	print "/*"; banner(" *"); print " */"
	print "#ifndef CTP_PROTO_H"
	print "#define CTP_PROTO_H"
	print ""
	print "/* constants */"
	for (i = 1; i <= nconst; i++)
		printf "#define CTP_%-24s %-12s /* %s */\n", const_name[i], const_val[i] (const_val[i] ~ /^0x/ ? "u" : ""), const_desc[i]
	print ""
	print "/* header octet 1 */"
	for (i = 1; i <= nflag; i++)
		printf "#define CTP_HDR_%-20s %-12s /* %s */\n", flag_name[i], flag_mask[i], flag_desc[i]
	print ""
	print "enum ctp_msg_type {"
	for (i = 1; i <= nmsg; i++)
		printf "\tCTP_MSG_%-12s = %d,\t/* %s */\n", msg_name[i], msg_type[i], msg_desc[i]
	printf "\tCTP_MSG_MAX = %d\n", msg_type[nmsg]
	print "};"
	print ""
	print "/* message fields, in the order they may appear in a layout */"
	print "enum ctp_mfield {"
	print "\tCTP_MF_END = 0,"
	for (i = 1; i <= nfield; i++)
		printf "\tCTP_MF_%-14s = %d,\t/* %s */\n", toupper(field_name[i]), i, field_desc[i]
	print "};"
	print ""
	print "enum ctp_status_code {"
	for (i = 1; i <= nstatus; i++)
		printf "\tCTP_ST_%-24s = 0x%02X,\t/* %s */\n", status_name[i], status_code[i], status_desc[i]
	print "};"
	print ""
	print "enum ctp_fpt {"
	for (i = 1; i <= nfpt; i++)
		printf "\tCTP_FPT_%-16s = %s,\t/* %s */\n", fpt_name[i], hex4(fpt_val[i]), fpt_desc[i]
	print "};"
	print ""
	print "/* TLV types, critical bit (0x8000) included */"
	print "#define CTP_TLV_CRITICAL 0x8000u"
	print "enum ctp_tlv_type {"
	for (t = 1; t <= ntlv; t++)
		printf "\tCTP_TLV_%s_%s = %s,\n", tlv_fpt[t], tlv_name[t], hex4(tlv_type[t])
	print "};"
	print ""
	for (s = 1; s <= nenumset; s++) {
		printf "enum ctp_%s {\n", enumset[s]
		for (e = 1; e <= nenum; e++)
			if (enum_set[e] == enumset[s])
				printf "\tCTP_%s_%s = %d,\t/* %s */\n", toupper(enumset[s]), enum_name[e], enum_val[e], enum_desc[e]
		print "};"
	}
	print ""
	print "#endif"
}

function gen_c(   i, t, e, s, j, fl) {
	print "/*"; banner(" *"); print " */"
	print "#include \"ctp/ctp_defs.h\""
	print ""
	print "const struct ctp_msg_def ctp_msg_defs[CTP_MSG_MAX + 1] = {"
	for (i = 1; i <= nmsg; i++) {
		fl = ""
		for (j = 1; j <= msg_nf[i]; j++) fl = fl "CTP_MF_" toupper(msg_f[i, j]) ", "
		printf "\t[%d] = { %d, %s, %s, %s, '%s', { %sCTP_MF_END } },\n", msg_type[i], msg_type[i], cstr(msg_name[i]), cstr(msg_wire[i]), cstr(msg_desc[i]), (msg_x[i] == "-" ? "\\0" : msg_x[i]), fl
	}
	print "};"
	print ""
	print "const struct ctp_mfield_def ctp_mfield_defs[] = {"
	print "\t{ NULL, NULL, NULL },"
	for (i = 1; i <= nfield; i++)
		printf "\t{ %s, %s, %s },\n", cstr(field_name[i]), cstr(field_kind[i]), cstr(field_desc[i])
	print "};"
	print ""
	print "const struct ctp_code_def ctp_status_defs[] = {"
	for (i = 1; i <= nstatus; i++)
		printf "\t{ 0x%02X, %s, %s },\n", status_code[i], cstr(status_name[i]), cstr(status_desc[i])
	print "\t{ 0, NULL, NULL }"
	print "};"
	print ""
	for (s = 1; s <= nenumset; s++) {
		printf "static const struct ctp_code_def enum_%s[] = {\n", enumset[s]
		for (e = 1; e <= nenum; e++)
			if (enum_set[e] == enumset[s])
				printf "\t{ %d, %s, %s },\n", enum_val[e], cstr(enum_name[e]), cstr(enum_desc[e])
		print "\t{ 0, NULL, NULL }"
		print "};"
	}
	print ""
	for (t = 1; t <= ntlv; t++) {
		printf "static const struct ctp_tlv_field fields_%s_%s[] = {\n", tlv_fpt[t], tlv_name[t]
		for (i = tlv_f0[t]; i < tlv_f0[t] + tlv_nf[t]; i++)
			printf "\t{ %s, %s, %d, %d, %s, %s },\n", cstr(f_name[i]), f_k[i], f_size[i], f_refidx[i], (f_enum[i] == "" ? "NULL" : "enum_" f_enum[i]), cstr(f_desc[i])
		print "};"
	}
	print ""
	for (s = 1; s <= nfpt; s++) {
		if (!fpt_tlv[s]) continue
		printf "static const struct ctp_tlv_def tlvs_%s[] = {\n", fpt_name[s]
		for (t = 1; t <= ntlv; t++) {
			if (tlv_fpt[t] != fpt_name[s]) continue
			printf "\t{ %s, %s, CTP_OCC_%s, %d, %d, %s, fields_%s_%s, %d },\n", hex4(tlv_type[t]), cstr(tlv_name[t]), toupper(tlv_occ[t]), tlv_min[t], tlv_max[t], cstr(tlv_desc[t]), tlv_fpt[t], tlv_name[t], tlv_nf[t]
		}
		print "};"
	}
	print ""
	print "const struct ctp_fpt_def ctp_fpt_defs[] = {"
	for (s = 1; s <= nfpt; s++) {
		if (fpt_tlv[s])
			printf "\t{ %s, %s, %s, tlvs_%s, sizeof tlvs_%s / sizeof tlvs_%s[0] },\n", hex4(fpt_val[s]), cstr(fpt_name[s]), cstr(fpt_desc[s]), fpt_name[s], fpt_name[s], fpt_name[s]
		else
			printf "\t{ %s, %s, %s, NULL, 0 },\n", hex4(fpt_val[s]), cstr(fpt_name[s]), cstr(fpt_desc[s])
	}
	print "\t{ 0, NULL, NULL, NULL, 0 }"
	print "};"
	print ""
	print "const struct ctp_enum_def ctp_enum_defs[] = {"
	for (s = 1; s <= nenumset; s++)
		printf "\t{ %s, enum_%s },\n", cstr(enumset[s]), enumset[s]
	print "\t{ NULL, NULL }"
	print "};"
}

function gen_lua(   i, t, e, s, j) {
	banner("--")
	print "local P = {}"
	print "P.const = {"
	for (i = 1; i <= nconst; i++) printf "  %s = %s,\n", const_name[i], const_val[i]
	print "}"
	print "P.msg = {"
	for (i = 1; i <= nmsg; i++) {
		printf "  [%d] = { name = %s, wire = %s, x = %s, desc = %s, fields = {", msg_type[i], luastr(msg_name[i]), luastr(msg_wire[i]), luastr(msg_x[i]), luastr(msg_desc[i])
		for (j = 1; j <= msg_nf[i]; j++) printf " %s,", luastr(msg_f[i, j])
		print " } },"
	}
	print "}"
	print "P.mfield = {"
	for (i = 1; i <= nfield; i++) printf "  %s = { kind = %s, desc = %s },\n", field_name[i], luastr(field_kind[i]), luastr(field_desc[i])
	print "}"
	print "P.status = {"
	for (i = 1; i <= nstatus; i++) printf "  [0x%02X] = { name = %s, desc = %s },\n", status_code[i], luastr(status_name[i]), luastr(status_desc[i])
	print "}"
	print "P.enum = {"
	for (s = 1; s <= nenumset; s++) {
		printf "  %s = {", enumset[s]
		for (e = 1; e <= nenum; e++) if (enum_set[e] == enumset[s]) printf " [%d] = %s,", enum_val[e], luastr(enum_name[e])
		print " },"
	}
	print "}"
	print "P.fpt = {"
	for (s = 1; s <= nfpt; s++) {
		printf "  [%s] = { name = %s, tlv = %s, desc = %s, tlvs = {\n", hex4(fpt_val[s]), luastr(fpt_name[s]), (fpt_tlv[s] ? "true" : "false"), luastr(fpt_desc[s])
		for (t = 1; t <= ntlv; t++) {
			if (tlv_fpt[t] != fpt_name[s]) continue
			printf "    [%s] = { name = %s, occurs = %s, min = %d, max = %d, desc = %s, fields = {\n", hex4(tlv_type[t]), luastr(tlv_name[t]), luastr(tlv_occ[t]), tlv_min[t], tlv_max[t], luastr(tlv_desc[t])
			for (i = tlv_f0[t]; i < tlv_f0[t] + tlv_nf[t]; i++)
				printf "      { name = %s, kind = %s, size = %d, ref = %s, enum = %s, desc = %s },\n", luastr(f_name[i]), luastr(tolower(substr(f_k[i], 8))), f_size[i], (f_ref[i] == "" ? "nil" : luastr(f_ref[i])), (f_enum[i] == "" ? "nil" : luastr(f_enum[i])), luastr(f_desc[i])
			print "    } },"
		}
		print "  } },"
	}
	print "}"
}

# bench/lib/json.awk: the small JSON toolkit every bench awk program shares
# (POSIX awk: Debian's default mawk runs it; python3 is not on a fresh
# Debian, so the report is built from sh and awk alone).
#
# json_str(s)        s as a JSON string literal
# json_num(x)        x as a JSON number, or null when x is empty
# json_parse(line)   parse one flat JSON object: every key's value lands in
#                    J[key] as text (strings unescaped, numbers as written,
#                    true/false/null as words, an array as its raw JSON text,
#                    scalar arrays only); J_keys holds the key count and
#                    J_order[1..J_keys] the keys in the order written.
#                    Returns 1 when the line is an object it understands.
# stats_sort(a, n)   sort a[1..n] numerically (insertion sort: n is small)
# stats_q(a, n, q)   quantile q of sorted a[1..n], linear between ranks
#                    (Hyndman-Fan type 7, what R and numpy call the default)

function json_str(s,    i, c, out, n) {
	out = ""
	n = length(s)
	for (i = 1; i <= n; i++) {
		c = substr(s, i, 1)
		if (c == "\\") out = out "\\\\"
		else if (c == "\"") out = out "\\\""
		else if (c == "\n") out = out "\\n"
		else if (c == "\t") out = out "\\t"
		else if (c == "\r") out = out "\\r"
		else out = out c
	}
	return "\"" out "\""
}

function json_num(x) {
	if (x == "" || x == "null") return "null"
	return x + 0
}

function json_skipws() {
	while (J_pos <= J_len && index(" \t\r\n", substr(J_src, J_pos, 1)) > 0)
		J_pos++
}

# A string starting at J_pos (at the opening quote); returns it unescaped.
function json_pstr(    c, out, e) {
	out = ""
	J_pos++
	while (J_pos <= J_len) {
		c = substr(J_src, J_pos, 1)
		if (c == "\"") { J_pos++; return out }
		if (c == "\\") {
			J_pos++
			e = substr(J_src, J_pos, 1)
			if (e == "n") out = out "\n"
			else if (e == "t") out = out "\t"
			else if (e == "r") out = out "\r"
			else if (e == "u") { out = out "?"; J_pos += 4 }
			else out = out e
		} else
			out = out c
		J_pos++
	}
	J_err = 1
	return out
}

# A scalar (number, true, false, null): the text up to the next , ] or }.
function json_pscalar(    start, c) {
	start = J_pos
	while (J_pos <= J_len) {
		c = substr(J_src, J_pos, 1)
		if (c == "," || c == "]" || c == "}" || index(" \t\r\n", c) > 0)
			break
		J_pos++
	}
	if (J_pos == start) J_err = 1
	return substr(J_src, start, J_pos - start)
}

# An array of scalars or strings, returned as its raw text.
function json_parr(    start, c, depth, instr) {
	start = J_pos
	depth = 0
	instr = 0
	while (J_pos <= J_len) {
		c = substr(J_src, J_pos, 1)
		if (instr) {
			if (c == "\\") J_pos++
			else if (c == "\"") instr = 0
		} else if (c == "\"") instr = 1
		else if (c == "[") depth++
		else if (c == "]") {
			depth--
			if (depth == 0) { J_pos++; return substr(J_src, start, J_pos - start) }
		}
		J_pos++
	}
	J_err = 1
	return ""
}

function json_parse(line,    k, c, v, kk) {
	for (kk in J) delete J[kk]
	J_keys = 0
	J_src = line
	J_len = length(line)
	J_pos = 1
	J_err = 0
	json_skipws()
	if (substr(J_src, J_pos, 1) != "{") return 0
	J_pos++
	json_skipws()
	if (substr(J_src, J_pos, 1) == "}") return 1
	while (J_pos <= J_len && !J_err) {
		json_skipws()
		if (substr(J_src, J_pos, 1) != "\"") return 0
		k = json_pstr()
		json_skipws()
		if (substr(J_src, J_pos, 1) != ":") return 0
		J_pos++
		json_skipws()
		c = substr(J_src, J_pos, 1)
		if (c == "\"") v = json_pstr()
		else if (c == "[") v = json_parr()
		else if (c == "{") return 0
		else v = json_pscalar()
		if (!(k in J)) J_order[++J_keys] = k
		J[k] = v
		json_skipws()
		c = substr(J_src, J_pos, 1)
		J_pos++
		if (c == "}") { json_skipws(); return !J_err && J_pos > J_len }
		if (c != ",") return 0
	}
	return 0
}

function stats_sort(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}

function stats_q(a, n, q,    p, lo) {
	if (n < 1) return ""
	p = (n - 1) * q + 1
	lo = int(p)
	if (lo >= n) return a[n]
	return a[lo] + (p - lo) * (a[lo + 1] - a[lo])
}

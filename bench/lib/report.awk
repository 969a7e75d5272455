# bench/lib/report.awk: report.json and report.md from one run's files.
# Run by bench/report.sh, after bench/lib/json.awk (the two texts joined).
#
# Input files, told apart by name:
#   */machine.json      one flat object: the machine and the versions
#   *.jsonl             the benchmarks' objects, one a line
#   */timing.tsv        phase <TAB> seconds <TAB> status <TAB> detail
#   */gate.log          epoch label quiet|gave-up busy_cores waited
#   *.prepare           a group's prepare verdict: "ok ..." or "fail ..."
#   */reference.tsv    the earlier reference measurement (bench/ike/), quoted
#                       under its own heading
# Environment: REPORT_DIR, REPORT_RADIO_RTT_MS, REPORT_BACKHAUL_RTT_MS.
#
# The first table compares ctpd with IKEv2: for each figure the ratio says
# how many times better ctpd is (IKEv2 / ctpd where lower is better,
# ctpd / IKEv2 where higher is), from the medians, and "not measured" when
# either side is missing.

function fmt(x,    a) {
	if (x == "" || x == "null") return "–"
	x += 0
	a = x < 0 ? -x : x
	if (x == int(x) && a < 1e9) return sprintf("%d", x)
	if (a >= 1000) return sprintf("%.0f", x)
	if (a >= 100) return sprintf("%.0f", x)
	if (a >= 10) return sprintf("%.1f", x)
	if (a >= 1) return sprintf("%.2f", x)
	if (a == 0) return "0"
	return sprintf("%.3g", x)
}

# A time unit's size in ms, or 0 when the unit is not a time.
function tunit(u) {
	if (u == "ms") return 1
	if (u == "us" || u == "µs") return 0.001
	if (u == "ns") return 0.000001
	if (u == "s") return 1000
	return 0
}

# The median of benchmark NAME in unit U (converting times), or "".
function med_in(name, u,    f, g) {
	if (!(name in B_status) || B_status[name] != "ok") return ""
	if (B_unit[name] == u) return B_median[name] + 0
	f = tunit(B_unit[name])
	g = tunit(u)
	if (f && g) return B_median[name] * f / g
	return ""
}

function have(name) {
	return (name in B_status) && B_status[name] == "ok"
}

# "median unit (p10–p90, n=N)" or "not measured" / "not measured: reason".
function cell(name, long) {
	if (!(name in B_status)) return "not measured"
	if (B_status[name] != "ok") {
		if (long && B_reason[name] != "") return "not measured: " B_reason[name]
		return "not measured"
	}
	return fmt(B_median[name]) " " B_unit[name] " (" fmt(B_p10[name]) "–" \
		fmt(B_p90[name]) ", n=" B_n[name] (B_quiet[name] == "false" ? ", not quiet" : "") ")"
}

# How many times better ctpd is than IKEv2, as text and into R_val.
function ratio(c, i, dir,    cv, iv) {
	R_val = ""
	if (!have(c) || !have(i)) return "not measured"
	cv = B_median[c] + 0
	iv = med_in(i, B_unit[c])
	if (iv == "") return "units differ (" B_unit[c] " vs " B_unit[i] ")"
	if (dir == "lower") {
		if (cv <= 0) return "–"
		R_val = iv / cv
	} else {
		if (iv <= 0) return "–"
		R_val = cv / iv
	}
	return fmt(R_val) "×"
}

function jn(x) {
	return (x == "" ? "null" : sprintf("%.6g", x))
}

function mdesc(s) {
	gsub(/\|/, "\\|", s)
	return s
}

FILENAME ~ /machine\.json$/ {
	if (json_parse($0))
		for (i = 1; i <= J_keys; i++) { k = J_order[i]; M[k] = J[k]; mkeys[++nm] = k }
	machine_raw = $0
	next
}

FILENAME ~ /\.jsonl$/ {
	if ($0 ~ /^[ \t]*$/) next
	if (!json_parse($0) || !("name" in J)) {
		bad[++nbad] = FILENAME ": " substr($0, 1, 120)
		next
	}
	n = J["name"]
	if (!(n in B_status)) order[++nb] = n
	raw[n] = $0
	B_status[n] = ("status" in J) ? J["status"] : (("median" in J) ? "ok" : "not measured")
	B_unit[n] = J["unit"]
	B_median[n] = J["median"]
	B_p10[n] = J["p10"]
	B_p90[n] = J["p90"]
	B_min[n] = J["min"]
	B_max[n] = J["max"]
	B_n[n] = J["n"]
	B_reason[n] = J["reason"]
	B_notes[n] = J["notes"]
	B_cmd[n] = J["command"]
	B_quiet[n] = ("quiet" in J) ? J["quiet"] : ""
	B_file[n] = FILENAME
	next
}

FILENAME ~ /timing\.tsv$/ {
	split($0, f, "\t")
	tm_phase[++ntm] = f[1]
	tm_s[ntm] = f[2]
	tm_status[ntm] = f[3]
	tm_detail[ntm] = f[4]
	next
}

FILENAME ~ /gate\.log$/ {
	gates++
	if ($3 == "gave-up") { gaveup++; gu[gaveup] = $2 " (" $4 " cores busy after " $5 ")" }
	next
}

FILENAME ~ /\.prepare$/ {
	g = FILENAME
	sub(/.*\//, "", g)
	sub(/\.prepare$/, "", g)
	prep[g] = $0
	next
}

FILENAME ~ /reference\.tsv$/ {
	if ($0 ~ /^#/ || $0 ~ /^[ \t]*$/) next
	split($0, f, "\t")
	ref_what[++nref] = f[1]
	ref_val[nref] = f[2]
	ref_note[nref] = f[3]
	next
}

END {
	dir = ENVIRON["REPORT_DIR"]
	radio = ENVIRON["REPORT_RADIO_RTT_MS"] + 0
	backhaul = ENVIRON["REPORT_BACKHAUL_RTT_MS"] + 0
	md = dir "/report.md"
	js = dir "/report.json"

	# ---- the ratio table: metric | ctpd | IKEv2 PSK | IKEv2 ECDSA | better
	nr = 0
	RT[++nr] = "Handover latency (loopback; IKEv2: a full establishment)|ctpd.handover.latency|ike.psk.establish.latency|ike.ecdsa.establish.latency|lower"
	RT[++nr] = "Throughput (SAs per second, this machine)|ctpd.bulk.sas_per_s|ike.psk.setups_per_s|ike.ecdsa.setups_per_s|higher"
	RT[++nr] = "CPU per SA (both ends)|ctpd.bulk.cpu_per_sa|ike.psk.cpu_per_sa|ike.ecdsa.cpu_per_sa|lower"
	RT[++nr] = "Bytes over the MN's link per handover|ctpd.mn.bytes|ike.psk.establish.bytes|ike.ecdsa.establish.bytes|lower"
	RT[++nr] = "Round trips over the MN's link|ctpd.mn.round_trips|ike.psk.establish.round_trips|ike.ecdsa.establish.round_trips|lower"

	started = M["started"]
	print "# ctpd vs IKEv2: benchmark report" > md
	print "" > md
	printf "Run %s on `%s`, git %s. Report folder `%s`.\n", started, M["host"], M["git_revision"], dir > md
	print "" > md
	if (gates) {
		if (gaveup)
			printf "**The machine was not quiet:** %d of %d quiet-machine gates gave up and measured anyway (%s). Figures marked \"not quiet\" ran beside other load: rates come out lower and CPU per SA higher than on a quiet machine, latencies either way (section 2 says why).\n\n", gaveup, gates, gu[1] (gaveup > 1 ? ", ..." : "") > md
		else
			printf "Every one of the %d quiet-machine gates found the machine quiet (%s).\n\n", gates, M["quiet_gate"] > md
	}
	for (g in prep)
		if (prep[g] ~ /^fail/)
			printf "**%s side not measured:** %s\n\n", (g == "ike" ? "IKEv2" : g), substr(prep[g], 6) > md
	for (i = 1; i <= nb; i++) if (order[i] ~ /^ctpd\./) nctpd++
	if (!nctpd)
		print "**No ctpd benchmark ran in this run**: the ctpd cells say not measured.\n" > md
	if (nbad)
		printf "**%d lines of benchmark output were not JSON objects with a name and were left out** (first: `%s`).\n\n", nbad, bad[1] > md

	print "## 1. ctpd vs IKEv2" > md
	print "" > md
	print "Medians, with p10–p90 and the number of samples; \"×\" is how many times better ctpd is (IKEv2 ÷ ctpd where lower is better, ctpd ÷ IKEv2 for throughput). IKEv2 is strongSwan with both ends in one charon on 127.0.0.1, so its CPU and latency cover initiator and responder; its fake kernel installs no SA, so the IKEv2 figures leave out the kernel's SA install." > md
	print "" > md
	print "| figure | ctpd | IKEv2 PSK | ctpd advantage | IKEv2 ECDSA P-256 | ctpd advantage |" > md
	print "|---|---|---|---|---|---|" > md
	rj = ""
	for (r = 1; r <= nr; r++) {
		split(RT[r], f, "|")
		a = ratio(f[2], f[3], f[5]); av = R_val
		b = ratio(f[2], f[4], f[5]); bv = R_val
		printf "| %s | %s | %s | %s | %s | %s |\n", f[1], cell(f[2], 0), cell(f[3], 0), a, cell(f[4], 0), b > md
		rj = rj (r > 1 ? "," : "") "{\"figure\":" json_str(f[1]) ",\"better\":" json_str(f[5]) \
			",\"ctpd\":" json_str(f[2]) ",\"ike_psk\":" json_str(f[3]) ",\"ike_ecdsa\":" json_str(f[4]) \
			",\"ratio_vs_psk\":" jn(av) ",\"ratio_vs_ecdsa\":" jn(bv) "}"
	}
	print "" > md
	print "Names: each cell is the benchmark of that name in section 2 (`ctpd.handover.latency`, `ike.psk.establish.latency`, ...)." > md
	print "" > md

	# ---- every benchmark
	print "## 2. Every benchmark" > md
	print "" > md
	print "Samples are per establishment, per exchange or per window, pooled over the runs; p10/p90 interpolate between ranks. \"quiet\" is no when a gate gave up or other load exceeded the threshold during the measurement." > md
	print "" > md
	print "| name | unit | median | p10 | p90 | min | max | n | quiet |" > md
	print "|---|---|---|---|---|---|---|---|---|" > md
	for (i = 1; i <= nb; i++) {
		n = order[i]
		if (B_status[n] == "ok")
			printf "| `%s` | %s | **%s** | %s | %s | %s | %s | %s | %s |\n", n, B_unit[n], fmt(B_median[n]), \
				fmt(B_p10[n]), fmt(B_p90[n]), fmt(B_min[n]), fmt(B_max[n]), B_n[n], \
				(B_quiet[n] == "true" ? "yes" : (B_quiet[n] == "false" ? "**no**" : "–")) > md
		else
			printf "| `%s` | %s | %s | | | | | 0 | |\n", n, B_unit[n], mdesc(cell(n, 1)) > md
	}
	print "" > md
	print "What each figure is:" > md
	print "" > md
	for (i = 1; i <= nb; i++) {
		n = order[i]
		printf "- `%s`: %s%s\n", n, (B_notes[n] != "" ? B_notes[n] : "(no notes)"), \
			(B_status[n] != "ok" && B_reason[n] != "" ? " **Not measured: " B_reason[n] "**" : "") > md
	}
	print "" > md

	# ---- the projection
	printf "## 3. Projection: radio RTT %s ms, backhaul RTT %s ms\n\n", fmt(radio), fmt(backhaul) > md
	print "This machine cannot emulate link delay (no netem), so the handover time on a real network is projected from what was measured: each protocol's round trips on the critical path over the radio link (MN side) and over the backhaul, times the two RTTs, plus its processing time measured here on loopback (which already contains loopback's own transit, a few µs to 0.1 ms per round trip). IKEv2 with PSK or certificates crosses no backhaul; with EAP it would add round trips to the AAA server." > md
	print "" > md
	print "| protocol | radio round trips | backhaul round trips | processing, median (p10–p90) | projected handover, median (p10–p90) |" > md
	print "|---|---|---|---|---|" > md
	np = 0
	PJ[++np] = "ctpd|ctpd.mn.round_trips|ctpd.backhaul.round_trips|ctpd.handover.latency"
	PJ[++np] = "IKEv2 PSK|ike.psk.establish.round_trips|0|ike.psk.establish.latency"
	PJ[++np] = "IKEv2 ECDSA P-256|ike.ecdsa.establish.round_trips|0|ike.ecdsa.establish.latency"
	pj = ""
	for (p = 1; p <= np; p++) {
		split(PJ[p], f, "|")
		rr = have(f[2]) ? B_median[f[2]] + 0 : ""
		bb = (f[3] == "0") ? 0 : (have(f[3]) ? B_median[f[3]] + 0 : "")
		pm = med_in(f[4], "ms")
		proj[p] = ""
		if (rr == "" || bb == "" || pm == "") {
			printf "| %s | %s | %s | %s | not measured |\n", f[1], (rr == "" ? "not measured" : fmt(rr)), \
				(bb == "" ? "not measured" : fmt(bb)), (pm == "" ? "not measured" : cell(f[4], 0)) > md
			pj = pj (p > 1 ? "," : "") "{\"protocol\":" json_str(f[1]) ",\"radio_round_trips\":" jn(rr) \
				",\"backhaul_round_trips\":" jn(bb) ",\"processing_ms\":" jn(pm) ",\"projected_ms\":null}"
			continue
		}
		u = tunit(B_unit[f[4]])
		lo = B_p10[f[4]] * u
		hi = B_p90[f[4]] * u
		base = rr * radio + bb * backhaul
		proj[p] = base + pm
		printf "| %s | %s × %s ms | %s × %s ms | %s ms (%s–%s) | **%s ms** (%s–%s) |\n", f[1], fmt(rr), fmt(radio), \
			fmt(bb), fmt(backhaul), fmt(pm), fmt(lo), fmt(hi), fmt(base + pm), fmt(base + lo), fmt(base + hi) > md
		pj = pj (p > 1 ? "," : "") "{\"protocol\":" json_str(f[1]) ",\"radio_round_trips\":" jn(rr) \
			",\"backhaul_round_trips\":" jn(bb) ",\"processing_ms\":" jn(pm) ",\"processing_p10_ms\":" jn(lo) \
			",\"processing_p90_ms\":" jn(hi) ",\"projected_ms\":" jn(base + pm) ",\"projected_p10_ms\":" jn(base + lo) \
			",\"projected_p90_ms\":" jn(base + hi) "}"
	}
	print "" > md
	if (proj[1] != "" && proj[2] != "")
		printf "Projected: IKEv2 PSK takes %s× as long as ctpd%s.\n\n", fmt(proj[2] / proj[1]), \
			(proj[3] != "" ? sprintf(", IKEv2 ECDSA %s×", fmt(proj[3] / proj[1])) : "") > md
	else
		print "No ratio: a side of the projection was not measured.\n" > md

	# ---- reproduce
	print "## 4. Reproduce" > md
	print "" > md
	print "```sh" > md
	print "make bench                          # everything: deps, build, all benchmarks, this report" > md
	print "bench/run.sh build                  # the same without make (after make deps all)" > md
	print "bench/run.sh build ike_exchanges    # one benchmark script (or several), into a new report folder" > md
	print "bench/report.sh " dir "   # rebuild this report from its folder" > md
	print "```" > md
	print "" > md
	print "Per figure:" > md
	print "" > md
	for (i = 1; i <= nb; i++) {
		n = order[i]
		if (!(B_cmd[n] in cmdseen)) {
			cmdseen[B_cmd[n]] = 1
			printf "- `%s`\n", B_cmd[n] > md
		}
	}
	printf "\nQuiet gate (busy time of the whole machine from /proc/stat, before each run): %s. Raw logs are under `raw/`, the gate's log in `gate.log`.\n", M["quiet_gate"] > md

	# ---- machine and versions
	print "## 5. Machine and versions" > md
	print "" > md
	print "| item | value |" > md
	print "|---|---|" > md
	for (i = 1; i <= nm; i++)
		printf "| %s | %s |\n", mkeys[i], mdesc(M[mkeys[i]]) > md
	for (g in prep)
		printf "| %s | %s |\n", (g == "ike" ? "strongSwan (IKEv2 side, bench/ike/prepare.sh)" : "prepare " g), mdesc(prep[g]) > md
	print "" > md

	# ---- time
	print "## 6. Where the time went" > md
	print "" > md
	print "| phase | seconds | status | detail |" > md
	print "|---|---|---|---|" > md
	tot = 0
	for (i = 1; i <= ntm; i++) {
		printf "| %s | %s | %s | %s |\n", tm_phase[i], tm_s[i], tm_status[i], mdesc(tm_detail[i]) > md
		tot += tm_s[i]
	}
	printf "| **total (bench/run.sh)** | **%d** (%.1f min) | | `make deps` and the ctpd build before it are not counted |\n\n", tot, tot / 60 > md

	# ---- the earlier reference
	if (nref) {
		print "## 7. Earlier reference measurement (not from this run)" > md
		print "" > md
		print "From the project's perf-anchors notes: strongSwan 5.9.8 with load-tester on the project's standard 2-vCPU Debian 12 VM, measured by hand with the same method and more repetitions on a gated quiet machine. Quoted only to judge this run's figures; nothing in sections 1–3 comes from it." > md
		print "" > md
		print "| figure | reference median | notes |" > md
		print "|---|---|---|" > md
		for (i = 1; i <= nref; i++)
			printf "| %s | %s | %s |\n", ref_what[i], ref_val[i], ref_note[i] > md
		print "" > md
	}

	# ---- report.json
	printf "{\"schema\":\"ctpd-bench/1\",\"dir\":%s,\"machine\":%s", json_str(dir), (machine_raw != "" ? machine_raw : "{}") > js
	printf ",\"prepare\":{" > js
	c = 0
	for (g in prep) printf "%s%s:%s", (c++ ? "," : ""), json_str(g), json_str(prep[g]) > js
	printf "},\"gates\":{\"total\":%d,\"gave_up\":%d,\"rule\":%s}", gates, gaveup, json_str(M["quiet_gate"]) > js
	printf ",\"ratios\":[%s]", rj > js
	printf ",\"projection\":{\"radio_rtt_ms\":%s,\"backhaul_rtt_ms\":%s,\"rows\":[%s]}", jn(radio), jn(backhaul), pj > js
	printf ",\"benchmarks\":[" > js
	for (i = 1; i <= nb; i++) printf "%s%s", (i > 1 ? ",\n" : "\n"), raw[order[i]] > js
	printf "\n],\"timing\":[" > js
	for (i = 1; i <= ntm; i++)
		printf "%s{\"phase\":%s,\"seconds\":%s,\"status\":%s,\"detail\":%s}", (i > 1 ? "," : ""), json_str(tm_phase[i]), \
			json_num(tm_s[i]), json_str(tm_status[i]), json_str(tm_detail[i]) > js
	printf "],\"reference\":{\"source\":\"perf-anchors (earlier measurement, not this run)\",\"rows\":[" > js
	for (i = 1; i <= nref; i++)
		printf "%s{\"figure\":%s,\"value\":%s,\"notes\":%s}", (i > 1 ? "," : ""), json_str(ref_what[i]), \
			json_str(ref_val[i]), json_str(ref_note[i]) > js
	print "]}}" > js
}

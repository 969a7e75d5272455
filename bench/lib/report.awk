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

# ---- the targets of issue 8 -------------------------------------------------
# target(label, value, unit, goal, better, why): one row; "by how much" as a
# factor; why only when missed.  Appends to tj (JSON).
function target(label, v, unit, goal, better, why,    met, by, verdict) {
	if (v == "") {
		printf "| %s | not measured | %s %s | – | |\n", label, (better == "lower" ? "≤" : "≥"), fmt(goal) " " unit > md
		tj = tj (ntg++ ? "," : "") "{\"target\":" json_str(label) ",\"value\":null,\"goal\":" jn(goal) ",\"unit\":" json_str(unit) ",\"met\":null}"
		return
	}
	v += 0
	goal += 0
	met = (better == "lower") ? (v <= goal) : (v >= goal)
	by = (better == "lower") ? (goal > 0 ? v / goal : 0) : (v > 0 ? goal / v : 0)
	verdict = met ? "**met**" : sprintf("**missed** by %s×", fmt(by))
	printf "| %s | %s %s | %s %s %s | %s | %s |\n", label, fmt(v), unit, (better == "lower" ? "≤" : "≥"), fmt(goal), unit, \
		verdict, (met ? "" : mdesc(why)) > md
	tj = tj (ntg++ ? "," : "") "{\"target\":" json_str(label) ",\"value\":" jn(v) ",\"goal\":" jn(goal) \
		",\"unit\":" json_str(unit) ",\"better\":" json_str(better) ",\"met\":" (met ? "true" : "false") \
		",\"factor\":" jn(by) (met ? "" : ",\"why\":" json_str(why)) "}"
}

function targets(    v, w, hir, nr, steps, k, s, sum, cnt, ikc, ikb, irs, irk, cpu, hsys, bsys) {
	print "### Targets of issue 8 on this machine" > md
	print "" > md
	print "Each row: this run's median (p99 where the target is a p99) against the issue's target; \"missed by N×\" is how far off it is, as a factor, with the reason found by profiling (`ctpd_profile`, callgrind) and by the step times of section 2." > md
	print "" > md
	print "| target | measured | goal | verdict | why, where missed |" > md
	print "|---|---|---|---|---|" > md
	# the profile's figures, for the reasons
	hir = have("ctpd.profile.handover.ir") ? B_median["ctpd.profile.handover.ir"] : ""
	irs = have("ctpd.profile.bulk.ir_per_sa.source") ? B_median["ctpd.profile.bulk.ir_per_sa.source"] : ""
	irk = have("ctpd.profile.bulk.ir_per_sa.sink") ? B_median["ctpd.profile.bulk.ir_per_sa.sink"] : ""
	cpu = have("ctpd.handover.type5.reactive.cpu") ? B_median["ctpd.handover.type5.reactive.cpu"] : ""
	sum = 0; cnt = 0
	for (k = 1; k <= 9; k++) {
		s = "ctpd.handover.type5.reactive.step" k
		if (have(s)) { sum += B_median[s]; cnt++ }
	}
	hsys = have("ctpd.handover.type5.reactive.cpu_sys_pct") ? fmt(B_median["ctpd.handover.type5.reactive.cpu_sys_pct"]) "%" : "?"
	w = sprintf("The critical path is %s sequential steps across 4 processes (NR, PR, S, NR, S', NR), each a wake-up, a TLS record and an SCTP packet over UDP; their medians are %s µs each on average (section 2, `ctpd.handover.type5.reactive.step*`). The daemons use %s ms of CPU per handover in all (`ctpd.handover.type5.reactive.cpu`, %s of it in the kernel) and execute %s user-space instructions (callgrind): with the handovers 4 ms apart, the 7 steps are mostly that work done one after the other on this 2-vCPU VM, so 400 µs needs about that factor less work per message. The profile (raw/ctpd_profile/handover.*.callgrind) has no single hot spot left: usrsctp's input and output, the TLS records, each SA decoded twice at the sink (check, then install) and each decode walking its TLVs twice; the log lines dropped by the level and the whole-struct wipes it once showed are gone (25c16d8, bfe5841).", \
		(cnt ? cnt : "7"), (cnt ? fmt(sum / cnt) : "?"), (cpu != "" ? fmt(cpu) : "?"), hsys, (hir != "" ? fmt(hir) : "?"))
	target("Full-chain handover, median (MN: CTAR to NR -> CTAA; type 5, TLS, separate processes)", med_in("ctpd.handover.latency", "us"), "µs", 400, "lower", w)
	v = (have("ctpd.handover.latency") && B_p99["ctpd.handover.latency"] != "") ? B_p99["ctpd.handover.latency"] * tunit(B_unit["ctpd.handover.latency"]) : ""
	target("Full-chain handover, p99", v, "ms", 2, "lower", "The tail is scheduling: each of the 7 hops waits for its process to run, and 5 processes (with the other load on the machine, see \"quiet\") share 2 vCPUs; the transport's 10 ms usrsctp timer also wakes every daemon. The step table below shows the p99 of each hop.")
	v = med_in("ctpd.handover.type5.reactive.nr", "us")
	target("In-daemon: CTAR at NR to CTAA (with captures)", v, "µs", 400, "lower", "The same 7 steps without the MN's own hop; every daemon also writes its capture (one write() per message).")
	v = have("ctpd.bulk.cpu_per_sa") ? med_in("ctpd.bulk.cpu_per_sa", "us") : ""
	bsys = have("ctpd.bulk.cpu_sys_pct") ? fmt(B_median["ctpd.bulk.cpu_sys_pct"]) "%" : "?"
	w = sprintf("Callgrind counts %s user-space instructions per SA at the source and %s at the sink; the kernel adds its part (%s of the measured CPU, `ctpd.bulk.cpu_sys_pct`): each MN is its own transfer (CTD out, CTDR back: two TLS records, two SCTP packets, their SACKs), i.e. a few syscalls per SA. The user-space hot spots left: the sink decodes each SA twice and walks its TLVs twice a decode, sets up an OpenSSL context for the ESP engine it checks each SA with, and still logs each committed transfer at notice; log formatting for dropped lines and whole-struct wipes, a third of the source and a seventh of the sink before, are gone (25c16d8, bfe5841). Removing the rest would not be enough alone: CXTP carries one MN per CTD, so every SA pair pays a message each way through TLS and SCTP.", \
		(irs != "" ? fmt(irs) : "?"), (irk != "" ? fmt(irk) : "?"), bsys)
	target("Bulk move: CPU per SA, both ends", v, "µs", 20, "lower", w)
	ikc = med_in("ike.psk.cpu_per_sa", "us")
	target("Bulk CPU per SA vs IKEv2 PSK (times less)", (v != "" && ikc != "" && v > 0) ? ikc / v : "", "×", 90, "higher", "Follows from the CPU per SA above.")
	target("Bulk move: SAs per second", have("ctpd.bulk.sas_per_s") ? B_median["ctpd.bulk.sas_per_s"] : "", "SAs/s", 100000, "higher", "The CPU per SA above bounds it: two daemons on 2 vCPUs move at best about 1 / max(source, sink CPU per SA) SAs a second, and less when other load shares the vCPUs (see \"quiet\"); the engine's pacing (at most half of min(transfers, transfers-per-peer) MNs in flight) keeps the pipe full, so the rate is CPU-bound.")
	target("Memory per SA held (mem SAD, 10^6 SAs)", have("ctpd.footprint.bytes_per_sa") ? B_median["ctpd.footprint.bytes_per_sa"] : "", "B", 512, "lower", "")
	ikb = have("ike.psk.establish.bytes") ? B_median["ike.psk.establish.bytes"] : ""
	w = "The CTN that nAR sends after the CTAA, when the MN's SAs have a new endpoint (here S' instead of S), and the MN's CTNA are part of it: the CTN carries one IPSEC_SA CDB per SA (SA_ID and ENDPOINTS, 32 octets each) and a 12-octet tag."
	if (have("ctpd.mn.critical_bytes") && ikb != "")
		w = w sprintf(" The critical path alone (CTAR and CTAA, `ctpd.mn.critical_bytes`) is %s B, %s of IKEv2's.", fmt(B_median["ctpd.mn.critical_bytes"]), fmt(B_median["ctpd.mn.critical_bytes"] / ikb))
	target("MN bytes per handover vs IKEv2 PSK (fraction; CTAR, CTAA, CTN, CTNA)", (have("ctpd.mn.bytes") && ikb != "") ? B_median["ctpd.mn.bytes"] / ikb : "", "of IKEv2", 0.1, "lower", w)
	if (have("ctpd.mn.critical_bytes") && ikb != "")
		target("MN bytes on the critical path vs IKEv2 PSK (CTAR, CTAA)", B_median["ctpd.mn.critical_bytes"] / ikb, "of IKEv2", 0.1, "lower", "")
	target("MN round trips per handover", have("ctpd.mn.round_trips") ? B_median["ctpd.mn.round_trips"] : "", "round trips", 1, "lower", "")
	print "" > md
}

# Where the time of one handover goes: the steps of each reactive scenario.
function steps_table(    i, n, sc, any) {
	for (i = 1; i <= nb; i++) if (order[i] ~ /\.step[0-9]+$/ && have(order[i])) any = 1
	if (!any) return
	print "### Where a handover's time goes (reactive, from the daemons' captures)" > md
	print "" > md
	print "Each step runs from the arrival of one message at its node to the arrival of the next at the next node: that node's work plus one hop (TLS, usrsctp over UDP on loopback, the wake-up). Share: of the mean in-daemon time, CTAR at NR to CTAA." > md
	print "" > md
	print "| scenario | step | median µs | p90 | p99 | share |" > md
	print "|---|---|---|---|---|---|" > md
	for (i = 1; i <= nb; i++) {
		n = order[i]
		if (n !~ /\.step[0-9]+$/ || !have(n)) continue
		sc = n
		sub(/^ctpd\.handover\./, "", sc)
		sub(/\.step[0-9]+$/, "", sc)
		printf "| %s | %s | %s | %s | %s | %s%% |\n", sc, mdesc(B_step[n]), fmt(B_median[n]), fmt(B_p90[n]), \
			fmt(B_p99[n]), B_share[n] > md
	}
	print "" > md
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
	B_p99[n] = ("p99" in J) ? J["p99"] : ""
	B_share[n] = ("share_pct" in J) ? J["share_pct"] : ""
	B_step[n] = ("step" in J) ? J["step"] : ""
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
	targets()
	steps_table()

	# ---- every benchmark
	print "## 2. Every benchmark" > md
	print "" > md
	print "Samples are per establishment, per exchange or per window, pooled over the runs; p10/p90 interpolate between ranks. \"quiet\" is no when a gate gave up or other load exceeded the threshold during the measurement." > md
	print "" > md
	print "| name | unit | median | p10 | p90 | p99 | min | max | n | quiet |" > md
	print "|---|---|---|---|---|---|---|---|---|---|" > md
	for (i = 1; i <= nb; i++) {
		n = order[i]
		if (B_status[n] == "ok")
			printf "| `%s` | %s | **%s** | %s | %s | %s | %s | %s | %s | %s |\n", n, B_unit[n], fmt(B_median[n]), \
				fmt(B_p10[n]), fmt(B_p90[n]), fmt(B_p99[n]), fmt(B_min[n]), fmt(B_max[n]), B_n[n], \
				(B_quiet[n] == "true" ? "yes" : (B_quiet[n] == "false" ? "**no**" : "–")) > md
		else
			printf "| `%s` | %s | %s | | | | | | 0 | |\n", n, B_unit[n], mdesc(cell(n, 1)) > md
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
	printf ",\"targets\":[%s]", tj > js
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

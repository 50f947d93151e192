#!/usr/bin/env bash
# Precision on software nobody here wrote (issue 14): Debian's etcd 3.4 (a gRPC
# server with its JSON gateway) and caddy (in front of it, and answering itself),
# under bounded load with impatient clients (1-2 ms command timeouts, watch streams
# cut after 0.2 s, aborted HTTP requests), and Go's own context package tests on the
# oldest and the newest Go. Asserted:
#   - the services answer the same traced as untraced, and Go's tests pass traced;
#   - every alert raised is listed below with the reason it is true;
#   - ctxtrace says nothing but its usual lines (no error, no warning);
#   - the graph of caddy holds no "context" decoded from memory that is not one.
# The binaries come from `apt-get download` + `dpkg -x` into $OUT/realsw (cached,
# never installed). A machine where apt cannot fetch them fails this test.
# REALSW_WATCH_ARGS adds options to the services' watch (make eval: --max-overhead 1).
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
cache=$OUT/realsw
root=$cache/root/usr/bin
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# Alerts known to be true: rule; a regex on the context's creation function; why.
expected=(
	"lost-cancel;^context_test\.(TestDeadline|TestTimeout|TestCanceledTimeout)$;the test drops the cancel func on purpose: c, _ := WithDeadline/WithTimeout(...)"
	"lost-cancel;^context_test\.TestCancelRemoves$;ctx, _ := WithCancel(Background()) on purpose, to check the parent's children"
	"lost-cancel;^context_test\.(TestLayersCancel|TestLayersTimeout|testLayers)$;testLayers calls one random cancel func of the stack it builds and drops the others"
	"lost-cancel;^context_test\.TestAllocs\.func[0-9]+$;c, _ := WithTimeout(bg, 1ns) in an allocation count: the cancel func is dropped"
	"lost-cancel;^context_test\.TestCause\.func[0-9]+$;ctx, _ = WithTimeoutCause(ctx, 0, tooSlow): the cancel func is dropped on purpose"
)

# ---- the binaries ----
fetch() {
	local v
	[ -x "$root/etcd" ] && [ -x "$root/etcdctl" ] && [ -x "$root/caddy" ] && return 0
	mkdir -p "$cache/debs" && rm -f "$cache/debs"/*.deb || return 1
	v=$(apt-cache madison etcd-server 2>/dev/null | awk -F'|' '$2 ~ /^ *3\.4\./ { gsub(/ /, "", $2); print $2; exit }')
	[ -n "$v" ] || { echo "apt knows no etcd-server 3.4 (run apt-get update; bookworm has it)"; return 1; }
	(cd "$cache/debs" && apt-get download -q "etcd-server=$v" "etcd-client=$v" caddy) >"$tmp/apt.log" 2>&1 ||
		{ echo "apt-get download failed: $(tail -n 3 "$tmp/apt.log")"; return 1; }
	for d in "$cache/debs"/*.deb; do dpkg -x "$d" "$cache/root" || return 1; done
	[ -x "$root/etcd" ] && [ -x "$root/etcdctl" ] && [ -x "$root/caddy" ]
}
if ! why=$(fetch); then
	not_ok "realsw: cannot fetch Debian's etcd 3.4 and caddy" "$why"
	done_testing
	exit
fi
ok "realsw: etcd $("$root/etcd" --version | sed -n 's/^etcd Version: //p'), caddy $("$root/caddy" version | cut -d' ' -f1)"

# ctxtrace's stderr: only these lines are expected.
ct_clean() { # FILE
	grep -vE '^(attached to pid [0-9]+ \(|[0-9]+ alerts?$|target [0-9]+ exited$|pid [0-9]+: [0-9]+ records lost \(ring buffer full\), 0 unreadable, 0 undecodable$|pid [0-9]+: [0-9]+ probe hits \(.*estimated cost|pid [0-9]+: the probes (would )?cost )' "$1"
}

# Every alert of FILE in the expected list; prints the others.
unexpected() { # FILE
	jq -r 'select(.type == "alert") | [.rule, (.context.created_at.func // "?"), .message] | @tsv' "$1" |
		sort -u | while IFS=$'\t' read -r rule func msg; do
			local e known=0
			for e in "${expected[@]}"; do
				IFS=';' read -r er ef _ <<<"$e"
				[ "$er" = "$rule" ] && [[ $func =~ $ef ]] && known=1
			done
			[ $known = 1 ] || echo "$rule: $msg"
		done
}

# ---- etcd and caddy ----
base=$((20000 + $$ % 20000))
eport=$base peer=$((base + 1)) cport=$((base + 2))
E=("$root/etcdctl" --endpoints="127.0.0.1:$eport")
export ETCDCTL_API=3

start_services() { # DIR
	mkdir -p "$1"
	"$root/etcd" --name default --data-dir "$1/data" --log-level error \
		--listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
		--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "default=http://127.0.0.1:$peer" >"$1/etcd.log" 2>&1 &
	epid=$!
	pids+=("$epid")
	cat >"$1/Caddyfile" <<-EOF
	{
		admin off
		auto_https off
	}
	:$cport {
		handle /etcd/* {
			uri strip_prefix /etcd
			reverse_proxy 127.0.0.1:$eport
		}
		respond "hello from caddy"
	}
	EOF
	HOME=$1 XDG_DATA_HOME=$1 XDG_CONFIG_HOME=$1 "$root/caddy" run --config "$1/Caddyfile" \
		--adapter caddyfile >"$1/caddy.log" 2>&1 &
	cpid=$!
	pids+=("$cpid")
	for _ in $(seq 100); do
		"${E[@]}" endpoint health >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$cport/" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_services() {
	kill "$epid" "$cpid" 2>/dev/null
	wait "$epid" "$cpid" 2>/dev/null
}

# Bounded load; what the services answer (the impatient requests' answers are not
# compared: they fail by design) goes to DIR/answers.
load() { # DIR ROUNDS
	local d=$1 i j bg=()
	: >"$d/answers"
	for i in $(seq "$2"); do
		if [ $((i % 10)) = 1 ]; then
			# concurrent watch streams on the gateway's one gRPC connection, cut after 2 s
			for j in 1 2 3; do
				curl -s --max-time 2 -d '{"create_request":{"key":"azE="}}' "http://127.0.0.1:$eport/v3/watch" >/dev/null 2>&1 &
				bg+=($!)
			done
			for j in 1 2; do
				curl -s --max-time 2 -d '{"create_request":{"key":"azE="}}' "http://127.0.0.1:$cport/etcd/v3/watch" >/dev/null 2>&1 &
				bg+=($!)
			done
		fi
		"${E[@]}" put "k$((i % 20))" "v$i" >>"$d/answers"
		"${E[@]}" get "k$((i % 20))" >>"$d/answers"
		"${E[@]}" --command-timeout=2ms get --prefix k >/dev/null 2>&1
		timeout -s INT 0.2 "${E[@]}" watch k1 >/dev/null 2>&1
		curl -s "http://127.0.0.1:$cport/" >>"$d/answers"; echo >>"$d/answers"
		curl -s --max-time 0.2 -d '{"create_request":{"key":"azE="}}' "http://127.0.0.1:$cport/etcd/v3/watch" >/dev/null 2>&1
		curl -s -d "{\"key\":\"$(printf 'k%d' $((i % 20)) | base64)\"}" "http://127.0.0.1:$cport/etcd/v3/kv/range" |
			jq -c '[.kvs[]? | {key, value}]' >>"$d/answers"
		curl -s $(for j in $(seq 20); do echo -d '{"key":"azE="}' "http://127.0.0.1:$eport/v3/kv/range"; done) |
			jq -sc '[.[] | .kvs[]? | {key, value}] | length' >>"$d/answers"
	done
	wait "${bg[@]}"
	"${E[@]}" get --prefix k >>"$d/answers"
}

rounds=${REALSW_ROUNDS:-60}
if ! start_services "$tmp/plain"; then
	not_ok "realsw: etcd or caddy did not start" "$(tail -n 3 "$tmp/plain/etcd.log" "$tmp/plain/caddy.log")"
else
	load "$tmp/plain" "$rounds"
	stop_services
fi
if ! start_services "$tmp/traced"; then
	not_ok "realsw: etcd or caddy did not start (traced run)" "$(tail -n 3 "$tmp/traced/etcd.log" "$tmp/traced/caddy.log")"
else
	secs=$((rounds / 2 + 15))
	"$CTXTRACE" watch -p "$epid" --json --grace 1s ${REALSW_WATCH_ARGS:-} --duration "${secs}s" >"$tmp/etcd.alerts" 2>"$tmp/etcd.err" &
	w1=$!
	"$CTXTRACE" watch -p "$cpid" --json --grace 1s ${REALSW_WATCH_ARGS:-} --duration "${secs}s" >"$tmp/caddy.alerts" 2>"$tmp/caddy.err" &
	w2=$!
	sleep 2
	load "$tmp/traced" "$rounds"
	"$CTXTRACE" graph -p "$cpid" --format json --duration 3s >"$tmp/caddy.graph" 2>"$tmp/graph.err" &
	g1=$!
	curl -s $(for j in $(seq 50); do echo "http://127.0.0.1:$cport/etcd/v3/kv/range" -d '{"key":"azE="}'; done) >/dev/null
	wait "$g1"; grc=$?
	wait "$w1"; rc1=$?
	wait "$w2"; rc2=$?
	stop_services
	for s in etcd caddy; do
		rc=$([ $s = etcd ] && echo $rc1 || echo $rc2)
		bad=$(ct_clean "$tmp/$s.err")
		# under a budget: whether it sampled (its alerts are judged the same)
		how=$(grep -o "sampling, attached [0-9]*% of the time" "$tmp/$s.err" | head -1)
		[ "$rc" = 0 ] && [ -z "$bad" ] && ok "realsw: ctxtrace watch on $s: exit 0, no error${how:+ ($how)}" ||
			not_ok "realsw: ctxtrace watch on $s exited $rc" "$bad"
		bad=$(unexpected "$tmp/$s.alerts")
		n=$(jq -s '[.[] | select(.type == "alert")] | length' "$tmp/$s.alerts")
		[ -z "$bad" ] && ok "realsw: $s: every alert expected ($n)" || not_ok "realsw: $s: unexpected alerts" "$bad"
	done
	if cmp -s "$tmp/plain/answers" "$tmp/traced/answers" && [ -s "$tmp/plain/answers" ]; then
		ok "realsw: etcd and caddy answer the same traced ($(wc -l <"$tmp/traced/answers") lines)"
	else
		not_ok "realsw: the answers differ traced" "$(diff "$tmp/plain/answers" "$tmp/traced/answers" | head -10)"
	fi
	# Memory that is not a context must not become one (issue 14: "custom
	# zapcore.Level", parents at 0x4): custom types are Context implementations
	# (caddy.Context, ...), no parent points below the first 64 KiB.
	if [ "$grc" != 0 ]; then
		not_ok "realsw: ctxtrace graph on caddy exited $grc" "$(head -3 "$tmp/graph.err")"
	else
		bad=$(jq -r '.. | objects | select(has("kind") and has("id")) |
			select((.kind == "custom" and ((.type // "") | test("zapcore|Replacement|Level|Logger"))) or
			       (((.parent // "0x0") | ltrimstr("0x") | length) <= 4 and (.parent // "0x0") != "0x0"))
			| "\(.kind) \(.type // "?") \(.id) parent \(.parent // "-")"' "$tmp/caddy.graph" | head -5)
		[ -z "$bad" ] && ok "realsw: caddy's graph holds only contexts" || not_ok "realsw: caddy's graph holds non-contexts" "$bad"
	fi
fi

# ---- Go's context package tests ----
all=$(go_versions)
oldest=${all%%$'\n'*} newest=${all##*$'\n'}
for v in $(echo "$oldest $newest" | tr ' ' '\n' | sort -u); do
	bin=$cache/context.test.$v
	if [ ! -x "$bin" ]; then
		GOTOOLCHAIN=local GOFLAGS= GOPROXY=off "$(go_tool "$v")" test -c -o "$bin" context >"$tmp/build.log" 2>&1 ||
			{ not_ok "realsw: go $v test -c context" "$(tail -5 "$tmp/build.log")"; continue; }
	fi
	# about 8 s of tests on this machine, many times over
	count=$([ "$v" = 1.19 ] && echo 1000 || echo 500)
	"$bin" -test.count=$count >"$tmp/ctest.out" 2>&1 &
	tp=$!
	pids+=("$tp")
	"$CTXTRACE" watch -p "$tp" --json --grace 1s --duration 120s >"$tmp/ctest.alerts" 2>"$tmp/ctest.err"
	wrc=$?
	wait "$tp"; trc=$?
	[ "$trc" = 0 ] && [ "$(tail -1 "$tmp/ctest.out")" = PASS ] && ok "realsw: Go $v context tests pass traced (-test.count=$count)" ||
		not_ok "realsw: Go $v context tests fail traced (exit $trc)" "$(tail -5 "$tmp/ctest.out")"
	bad=$(ct_clean "$tmp/ctest.err")
	[ "$wrc" = 0 ] && [ -z "$bad" ] && ok "realsw: ctxtrace watch on Go $v context tests: exit 0, no error" ||
		not_ok "realsw: ctxtrace watch on Go $v context tests exited $wrc" "$bad"
	# losses said at exit are in the alert stream too, with the same total
	said=$(sed -n 's/^pid [0-9]*: \([0-9]*\) records lost.*/\1/p' "$tmp/ctest.err")
	streamed=$(jq -s '[.[] | select(.type == "lost") | .ringbuf_drops] | add // 0' "$tmp/ctest.alerts")
	[ "${said:-0}" = "$streamed" ] && ok "realsw: Go $v: records lost in the alert stream: $streamed, as said at exit" ||
		not_ok "realsw: Go $v: $streamed records lost in the stream, ${said:-0} said at exit"
	bad=$(unexpected "$tmp/ctest.alerts")
	n=$(jq -s '[.[] | select(.type == "alert")] | length' "$tmp/ctest.alerts")
	[ -z "$bad" ] && ok "realsw: Go $v context tests: every alert expected ($n)" ||
		not_ok "realsw: Go $v context tests: unexpected alerts" "$bad"
done
done_testing

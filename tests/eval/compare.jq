# Compares ctxtrace's alerts with what a corpus program said about itself.
# Input: {"truth": <the program's truth line>, "alerts": [<alert lines>], "grace_ms": N}
# Output: one object: expected/found/missed/false counts, the details, and latencies.
# An alert matches an expected entry when the rule is the same and every site the
# entry names (file:line, file name only) is among the alert's sites of that role.

def loc: if . == null then null else "\(.file // "?" | split("/") | last):\(.line)" end;
def ms: (.[0:19] + "Z" | fromdate) * 1000 + (.[20:23] | tonumber);

def sites_of:
  { ctx: [.context.created_at | loc],
    derive: [.context.created_at | loc],
    scope: [.scope.created_at | loc],
    go: ([.goroutine.go_site | loc] + [.waiters.groups[]?.go_site | loc]),
    block: ([.blocking[]?.site | loc] + [.waiters.groups[]?.site | loc]) };

# What the group's goroutines are blocked in: wait reasons and system calls.
def waits_of: [.blocking[]? | .wait_reason, .syscall] + [.waiters.groups[]?.wait_reason] | map(select(. != null));

# Lineage breaks are warnings unless the program says otherwise (WithoutCancel: info).
def want_severity: .severity // (if .rule == "lineage-break" then "warning" else null end);

def matches($e):
  . as $a | ($a | sites_of) as $s
  | $a.rule == $e.rule
  and (($e | want_severity) == null or $a.severity == ($e | want_severity))
  and ([$e.sites | to_entries[] | . as $kv | ($s[$kv.key] // []) | index([$kv.value]) != null] | all);

.truth as $t | .grace_ms as $grace
# one entry per alert id: the first emission's time, the highest count
| [.alerts[] | select(.type == "alert")] | group_by(.id)
| map({id: .[0].id, rule: .[0].rule, severity: .[0].severity, first_ms: (map(.time | ms) | min),
       count: (map(.count) | max), last: (max_by(.count))})
| . as $alerts
| [$t.expect[] | . as $e
    | [$alerts[] | select(.last | matches($e))] as $m
    | {rule, what, sites, wait, expected_count: .count, found: ($m | length > 0),
       count: ($m | map(.count) | add // 0),
       latency_ms: (if ($m | length) > 0 then (($m | map(.first_ms) | min) - .last_ms) else null end),
       # the expected wait shows among the group's (rules that report one)
       wait_ok: (if (.wait // []) == [] or ($m | length) == 0 or .rule == "propagate-goroutine" then true
                 else ([$m[].last | waits_of[]] as $w | [.wait[] | . as $x | $w | index($x) != null] | any) end),
       ids: ($m | map(.id))}] as $res
| ($res | map(.ids[]) ) as $used
| [$alerts[] | select(.id as $id | $used | index($id) | not)
   | {id, rule, severity, count, message: .last.message}] as $false
| {program: $t.program, go: $t.go, pid: $t.pid,
   expected: ($res | length), found: ($res | map(select(.found)) | length),
   missed: ($res | map(select(.found | not)) | length), false: ($false | length),
   latency_ms_max: ($res | map(.latency_ms // empty) | max),
   results: $res, false_alerts: $false}

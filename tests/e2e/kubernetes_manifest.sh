#!/usr/bin/env bash
# packaging/kubernetes/ctxtraced.yaml against what docs/kubernetes.md promises,
# with a YAML parser (python3-yaml; kubectl is not here): kinds, host PID, the
# exact capabilities of docs/privileges.md, read-only BTF and config mounts, no
# writable hostPath, resources, probes on the config's metrics port over loopback;
# and the ConfigMap's config accepted by `ctxtraced --check-config`.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 -c 'import yaml' 2>/dev/null || { not_ok "python3-yaml is installed (make deps)"; exit 1; }
/usr/bin/python3 - packaging/kubernetes/ctxtraced.yaml docs/privileges.md docs/kubernetes.md "$tmp/ctxtraced.conf" <<'PY'
import re, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
priv = open(sys.argv[2]).read()
page = open(sys.argv[3]).read()
def check(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + "kubernetes: " + name)
    if not cond and detail:
        print("# " + str(detail))
kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
check("Namespace, ServiceAccount, ConfigMap and DaemonSet ctxtraced",
      {("Namespace", "ctxtrace"), ("ServiceAccount", "ctxtraced"), ("ConfigMap", "ctxtraced"),
       ("DaemonSet", "ctxtraced")} <= kinds, kinds)
ds = next(d for d in docs if d["kind"] == "DaemonSet")
cm = next(d for d in docs if d["kind"] == "ConfigMap")
sa = next(d for d in docs if d["kind"] == "ServiceAccount")
spec = ds["spec"]["template"]["spec"]
check("selector matches the pod labels",
      all(spec and ds["spec"]["template"]["metadata"]["labels"].get(k) == v
          for k, v in ds["spec"]["selector"]["matchLabels"].items()))
check("hostPID and hostNetwork", spec.get("hostPID") is True and spec.get("hostNetwork") is True)
check("no service account token", spec.get("automountServiceAccountToken") is False and
      sa.get("automountServiceAccountToken") is False)
check("runs on every node (tolerates everything)", {"operator": "Exists"} in spec.get("tolerations", []))
(c,) = spec["containers"]
sc = c["securityContext"]
want = sorted(m.replace("CAP_", "") for m in set(re.findall(r"`(CAP_[A-Z_]+)`", priv)))
caps = sc.get("capabilities", {})
check("capabilities: drop ALL, add exactly those of docs/privileges.md (%s)" % ", ".join(want),
      caps.get("drop") == ["ALL"] and sorted(caps.get("add", [])) == want, caps)
check("not privileged, no privilege escalation, read-only root",
      sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False
      and sc.get("readOnlyRootFilesystem") is True, sc)
check("seccomp and AppArmor unconfined (bpf, perf_event_open)",
      sc.get("seccompProfile", {}).get("type") == "Unconfined" and sc.get("appArmorProfile", {}).get("type") == "Unconfined")
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["name"]: m for m in c["volumeMounts"]}
btf = [n for n, v in vols.items() if v.get("hostPath", {}).get("path") == "/sys/kernel/btf"]
check("BTF mounted read-only at /sys/kernel/btf",
      len(btf) == 1 and mounts[btf[0]]["mountPath"] == "/sys/kernel/btf" and mounts[btf[0]].get("readOnly") is True)
check("every hostPath read-only",
      all(mounts[n].get("readOnly") is True for n, v in vols.items() if "hostPath" in v and n in mounts))
cfgvol = [n for n, v in vols.items() if v.get("configMap", {}).get("name") == "ctxtraced"]
cmd = c["command"]
cfgpath = cmd[cmd.index("--config") + 1]
check("the config: the ConfigMap mounted read-only where --config points",
      len(cfgvol) == 1 and mounts[cfgvol[0]].get("readOnly") is True and
      cfgpath == mounts[cfgvol[0]]["mountPath"] + "/ctxtraced.conf" and "ctxtraced.conf" in cm["data"], cmd)
writable = [m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")]
check("the only writable mount is the socket's emptyDir /run/ctxtrace",
      writable == ["/run/ctxtrace"] and "emptyDir" in vols[[n for n, m in mounts.items() if m["mountPath"] == "/run/ctxtrace"][0]], writable)
res = c.get("resources", {})
check("resources: requests and limits for cpu and memory",
      all(res.get(k, {}).get(r) for k in ("requests", "limits") for r in ("cpu", "memory")), res)
conf = cm["data"]["ctxtraced.conf"]
m = re.search(r"^metrics_listen\s*=\s*127\.0\.0\.1:(\d+)\s*$", conf, re.M)
port = int(m.group(1)) if m else None
for p in ("livenessProbe", "readinessProbe"):
    g = c.get(p, {}).get("httpGet", {})
    check("%s: GET /metrics on 127.0.0.1:%s (the config's metrics_listen)" % (p, port),
          port and g.get("path") == "/metrics" and g.get("port") == port and g.get("host") == "127.0.0.1", g)
sock = re.search(r"^socket\s*=\s*(\S+)\s*$", conf, re.M)
check("the socket is under /run/ctxtrace", sock and sock.group(1).startswith("/run/ctxtrace/"))
for word in ["hostPID", "hostNetwork", "readOnlyRootFilesystem", "Unconfined", "/sys/kernel/btf", "livenessProbe",
             "readinessProbe", "automountServiceAccountToken"] + want:
    if word not in page:
        check("docs/kubernetes.md explains %s" % word, False)
open(sys.argv[4], "w").write(conf)
PY
# The ConfigMap's config, with the pod's paths moved under $tmp, by the daemon's own parser.
sed "s|/run/ctxtrace/|$tmp/|" "$tmp/ctxtraced.conf" >"$tmp/check.conf"
if "$CTXTRACED" --check-config --config "$tmp/check.conf" >"$tmp/check.out" 2>&1; then
	ok "kubernetes: the ConfigMap's ctxtraced.conf passes ctxtraced --check-config"
else
	not_ok "kubernetes: ctxtraced --check-config on the ConfigMap's config" "$(cat "$tmp/check.out")"
fi
done_testing

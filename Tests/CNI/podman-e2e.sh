#!/usr/bin/env bash
# Real containers on gbpd through the gbp-cni plugin: podman (CNI backend) starts busybox
# containers on two CNI networks, gbp-frontend and gbp-backend (config/cni/*.conflist),
# and gbpd enforces config/cni/gbpd.yaml between them.
#
#   Tests/CNI/podman-e2e.sh            # from the repository; needs root, podman, runc,
#                                      # containernetworking-plugins, busybox-static,
#                                      # iproute2, ethtool (.ci/install-deps installs them)
#
# Checks: a frontend container reaches a backend container on tcp/8080 (allowed by the
# contract) and not on 8081 (gbpd drops it: no_contract); CHECK passes on a running
# container; a stopped container's port and endpoint are gone; 20 containers started and
# stopped leave no veth, port, endpoint, IP allocation or mbuf behind.
# Everything is private to a temporary folder: podman's storage and containers.conf, the
# CNI config folder, host-local's data, gbpd's socket and DPDK file prefix. The host's
# /etc/containers and /etc/cni are not touched. Prints SKIP and exits 0 where podman
# cannot run. GBP_KEEP=1 keeps the folder for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
start=$(date +%s)

skip() { echo "podman-e2e: SKIP: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, veth, DPDK af_packet ports)"
for tool in podman runc ip nsenter ethtool busybox python3; do
  command -v "$tool" >/dev/null 2>&1 || skip "'$tool' not found (bash .ci/install-deps installs it)"
done
[ -x /usr/lib/cni/host-local ] || skip "/usr/lib/cni/host-local not found (apt-get install containernetworking-plugins)"

# -- build --------------------------------------------------------------------------
scratch=${GBP_SCRATCH_PATH:-.build}
for p in gbpd gbpctl gbp-cni; do swift build --scratch-path "$scratch" --product "$p" 2>&1 | tail -1; done
bin=$(swift build --scratch-path "$scratch" --show-bin-path)

# -- private set-up -----------------------------------------------------------------
w=$(mktemp -d /tmp/gbp-cni-e2e.XXXXXX)
tag="gbpe2e$$"                       # container name prefix
gbpd_pid=""
failures=0
fail() { echo "podman-e2e: FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "podman-e2e: ok: $*"; }

export CONTAINERS_CONF="$w/containers.conf"
# vfs: works on any file system (the rootfs is a plain folder, so nothing is copied).
pm() { podman --root "$w/storage" --runroot "$w/run" --storage-driver vfs "$@"; }
ctl() { "$bin/gbpctl" "$@" --socket "$w/gbpd.sock"; }
limits=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)

cleanup() {
  set +e
  pm ps -aq --filter "name=$tag" 2>/dev/null | xargs -r podman --root "$w/storage" --runroot "$w/run" --storage-driver vfs rm -f -t 0 >/dev/null 2>&1
  if [ -n "$gbpd_pid" ] && kill -0 "$gbpd_pid" 2>/dev/null; then
    kill -INT "$gbpd_pid"; for _ in $(seq 50); do kill -0 "$gbpd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$gbpd_pid" 2>/dev/null
  fi
  rm -rf "/var/run/dpdk/$tag"
  [ "${GBP_KEEP:-0}" = 1 ] && echo "podman-e2e: kept $w" || rm -rf "$w"
}
trap cleanup EXIT

mkdir -p "$w/net.d" "$w/cni-bin" "$w/rootfs/bin" "$w/rootfs/www"
ln -s "$bin/gbp-cni" "$w/cni-bin/gbp-cni"
cat > "$CONTAINERS_CONF" <<EOF
[network]
network_backend = "cni"
network_config_dir = "$w/net.d"
cni_plugin_dirs = ["$w/cni-bin", "/usr/lib/cni"]
EOF
# The example conflists, pointed at this gbpd and at a private host-local data folder.
for net in frontend backend; do
  python3 - "$repo/config/cni/gbp-$net.conflist" "$w/net.d/gbp-$net.conflist" "$w" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); w = sys.argv[3]
p = c["plugins"][0]
p["socket"] = w + "/gbpd.sock"; p["log_file"] = w + "/gbp-cni.log"; p["ipam"]["dataDir"] = w + "/ipam"
json.dump(c, open(sys.argv[2], "w"), indent=2)
EOF
done
# A busybox root filesystem: no image registry needed. (Debian's busybox-static wget crashes
# with -T: the timeout applet bounds it instead.)
cp "$(command -v busybox)" "$w/rootfs/bin/busybox"
for a in sh ip wget nc httpd sleep cat true timeout; do ln -s busybox "$w/rootfs/bin/$a"; done
echo "backend says hello" > "$w/rootfs/www/index.html"

# Can podman run a container here at all? (In an unprivileged CI container it may not.)
if ! out=$(pm run --rm --network none "${limits[@]}" --rootfs "$w/rootfs" /bin/true 2>&1); then
  skip "podman cannot run a container on this machine: $(echo "$out" | tail -2 | tr '\n' ' ')"
fi

# gbpd on the example config, with its own socket and file prefix.
sed -e "s|/run/gbpd/gbpd.sock|$w/gbpd.sock|" -e "s|--file-prefix, gbpd-cni|--file-prefix, $tag|" \
  config/cni/gbpd.yaml > "$w/gbpd.yaml"
"$bin/gbpd" --config "$w/gbpd.yaml" --stats-json "$w/stats.json" --duration 600 > "$w/gbpd.log" 2>&1 &
gbpd_pid=$!
for _ in $(seq 100); do [ -S "$w/gbpd.sock" ] && break; kill -0 $gbpd_pid || break; sleep 0.1; done
[ -S "$w/gbpd.sock" ] || { cat "$w/gbpd.log"; echo "podman-e2e: FAIL: gbpd did not start"; exit 1; }
ok "gbpd running (pid $gbpd_pid)"

# -- helpers ------------------------------------------------------------------------
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
runtime_ports() { ctl ports --json | json '" ".join(p["name"] for p in d["ports"] if p.get("runtime"))'; }
endpoints() { ctl endpoints --json | json '" ".join(e["name"] for e in d["endpoints"])'; }
dropped() { ctl stats --json | json 'd["stats"]["drops"].get("no_contract", 0)'; }
host_veths() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^gbp[0-9a-f]{11}$' || true; }
ip_of() { pm inspect --format "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
veths_before=$(host_veths)

# -- policy: frontend -> backend:8080 allowed, 8081 not ------------------------------
pm run -d --name "$tag-backend" --network gbp-backend "${limits[@]}" --rootfs "$w/rootfs" \
  /bin/sh -c 'httpd -p 8080 -h /www; httpd -p 8081 -h /www; exec sleep 600' >/dev/null
backend_ip=$(ip_of "$tag-backend" gbp-backend)
ok "backend container on gbp-backend: $backend_ip"
eps=$(endpoints)
[ "$eps" = "$tag-backend" ] && ok "gbpd has endpoint $eps" || fail "endpoints after the backend started: '$eps'"

# CHECK of the running backend (podman healthcheck has no CNI CHECK: call the plugin as the runtime would).
cid=$(pm inspect --format '{{.Id}}' "$tag-backend")
netns=$(pm inspect --format '{{.NetworkSettings.SandboxKey}}' "$tag-backend")
conf=$(python3 - "$w/net.d/gbp-backend.conflist" "$cid" "$backend_ip" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); p = c["plugins"][0]
p["name"] = c["name"]; p["cniVersion"] = c["cniVersion"]
p["prevResult"] = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "x"}],
                   "ips": [{"address": sys.argv[3] + "/24", "interface": 0}]}
print(json.dumps(p))
EOF
)
check() { echo "$conf" | CNI_COMMAND=CHECK CNI_CONTAINERID=$cid CNI_NETNS=$netns CNI_IFNAME=eth0 \
  CNI_PATH="$w/cni-bin:/usr/lib/cni" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=$tag-backend" "$bin/gbp-cni"; }
out=$(check) && ok "CNI CHECK of the backend passes" || fail "CNI CHECK of the backend: $out"

before=$(dropped)
out=$(pm run --rm --name "$tag-frontend" --network gbp-frontend "${limits[@]}" --rootfs "$w/rootfs" \
  /bin/sh -c "timeout 5 wget -q -O - http://$backend_ip:8080/ && echo 8080-ok; timeout 3 wget -q -O - http://$backend_ip:8081/ && echo 8081-reached || echo 8081-blocked" 2>&1) || true
echo "$out" | sed 's/^/    frontend: /'
echo "$out" | grep -q "backend says hello" && echo "$out" | grep -q 8080-ok \
  && ok "frontend reached backend:8080" || fail "frontend did not reach backend:8080"
echo "$out" | grep -q 8081-blocked && ok "frontend did not reach backend:8081" || fail "frontend reached backend:8081"
after=$(dropped)
[ "$after" -gt "$before" ] && ok "gbpd dropped $((after - before)) packets for no_contract" || fail "no no_contract drops ($before -> $after)"
eps=$(endpoints)
[ "$eps" = "$tag-backend" ] && ok "the frontend's endpoint is gone after it stopped" || fail "endpoints after the frontend stopped: '$eps'"

# CHECK notices a port gone from gbpd (removed here by hand); DEL then still succeeds.
ctl ports remove "$(runtime_ports)" >/dev/null
out=$(check) && fail "CNI CHECK passes without the gbpd port" \
  || ok "CNI CHECK without the gbpd port fails: $(echo "$out" | json 'd["msg"] + ": " + d.get("details", "")')"
pm rm -f -t 0 "$tag-backend" >/dev/null
[ -z "$(runtime_ports)" ] && [ -z "$(endpoints)" ] && ok "backend stopped: no runtime port, no endpoint" \
  || fail "after the backend stopped: ports '$(runtime_ports)', endpoints '$(endpoints)'"
grep "DEL container ${cid:0:12}" "$w/gbp-cni.log" | grep -q ': ok' && ok "DEL of the backend succeeded without its port" \
  || fail "DEL of the backend: $(grep "DEL container ${cid:0:12}" "$w/gbp-cni.log")"

# -- 20 containers started and stopped ------------------------------------------------
loop_start=$(date +%s)
for i in $(seq 20); do
  net=gbp-frontend; [ $((i % 2)) -eq 0 ] && net=gbp-backend
  pm run -d --name "$tag-l$i" --network $net "${limits[@]}" --rootfs "$w/rootfs" /bin/sleep 60 >/dev/null
  n=$(runtime_ports | wc -w)
  [ "$n" -eq 1 ] || fail "container $i: $n runtime ports"
  pm rm -f -t 0 "$tag-l$i" >/dev/null
done
ok "20 containers started and stopped in $(( $(date +%s) - loop_start )) s"
[ -z "$(runtime_ports)" ] && ok "no runtime port left" || fail "runtime ports left: $(runtime_ports)"
[ -z "$(endpoints)" ] && ok "no endpoint left" || fail "endpoints left: $(endpoints)"
[ "$(host_veths)" = "$veths_before" ] && ok "no veth left" || fail "veths left: $(host_veths)"
leases=$(find "$w/ipam" -type f -name '10.*' | wc -l)
[ "$leases" -eq 0 ] && ok "no host-local allocation left" || fail "$leases host-local allocations left"

# -- gbpd's end: no mbuf in use ------------------------------------------------------
kill -INT $gbpd_pid
for _ in $(seq 100); do kill -0 $gbpd_pid 2>/dev/null || break; sleep 0.1; done
gbpd_pid=""
inuse=$(json 'd.get("mempool_in_use_at_exit", -1)' < "$w/stats.json")
removed=$(json 'd.get("removed_ports", {}).get("count", -1)' < "$w/stats.json")
[ "$inuse" = 0 ] && ok "gbpd exited with 0 mbufs in use ($removed ports removed)" || fail "mbufs in use at exit: $inuse"
# How long the plugin took (its log: one line per call).
python3 - "$w/gbp-cni.log" <<'EOF'
import re, sys
t = {}
for line in open(sys.argv[1]):
    m = re.search(r" (ADD|DEL|CHECK) .*: (ok|error \d+) in (\d+) ms", line)
    if m: t.setdefault(m.group(1) + ("" if m.group(2) == "ok" else " " + m.group(2)), []).append(int(m.group(3)))
for k, v in sorted(t.items()):
    v.sort(); print(f"podman-e2e: gbp-cni {k}: {len(v)} calls, median {v[len(v)//2]} ms, max {v[-1]} ms")
EOF

echo "podman-e2e: $failures failure(s) in $(( $(date +%s) - start )) s"
[ $failures -eq 0 ]

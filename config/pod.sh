#!/usr/bin/env bash
# Creates or deletes a "pod" for gbpd: a network namespace with one veth
# interface, and prints the gbpd config entries (port + endpoint) that attach it.
#
#   config/pod.sh create NAME --ip 10.0.0.1/24 --mac 02:00:00:00:0a:01 \
#                 [--ip fd00::1/64] [--tenant T] [--group G] [--gw IP] [--pmd af_packet|af_xdp]
#                 [--no-offload-fix]
#   config/pod.sh delete NAME        # also stops what still runs in the namespace
#   config/pod.sh show NAME          # prints the config entries of an existing pod
#
# create makes:
#   - network namespace NAME, with lo up;
#   - a veth pair: host end "gbp-NAME" (up, no address, IPv6 off so the host
#     sends nothing on it), pod end "eth0" inside the namespace with the MAC and
#     the addresses, up; a default route on eth0 (on-link, or via --gw);
#   - transmit checksum offload off on the pod's eth0 (ethtool -K eth0 tx off):
#     otherwise the pod's kernel leaves TCP/UDP checksums partial on the veth,
#     af_packet hands them to gbpd as they are, gbpd forwards them, and the
#     receiving pod drops them (seen here: ping works, TCP never connects).
#     With tx off the kernel also segments in software, so no frame larger than
#     the MTU reaches the af_packet ring.
# and prints the YAML entries: a port with devargs "net_af_packet_NAME,iface=gbp-NAME,qpairs=1"
# (one af_packet device per pod; DPDK takes any name that starts with net_af_packet),
# or with --pmd af_xdp "net_af_xdp_NAME,iface=gbp-NAME" (each af_xdp port fills its
# ring with 2048 mbufs of gbpd's pool: give mempool.mbufs >= 4096 per af_xdp port),
# and an endpoint with the pod's MAC and addresses.
#
# Both commands are idempotent: create on an existing pod with the same
# settings re-applies them; delete on a missing pod does nothing.
# Needs root, iproute2 and ethtool.
set -euo pipefail

prog=$(basename "$0")
die() { echo "$prog: $*" >&2; exit 1; }
usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
cmd=$1; shift
[ $# -ge 1 ] || usage
name=$1; shift

# Names: the host end is gbp-NAME and interface names have at most 15 characters.
[[ "$name" =~ ^[a-zA-Z0-9][a-zA-Z0-9_-]{0,10}$ ]] ||
  die "pod name '$name': use 1 to 11 letters, digits, '-' or '_' (the host interface gbp-NAME must fit in 15 characters)"
host_if="gbp-$name"
pod_if="eth0"

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: install $2"; }
need ip iproute2
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and veth)"

ns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$name"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

print_entries() {
  local mac=$1 tenant=$2 group=$3 pmd=$4; shift 4
  local ips="" a
  for a in "$@"; do
    a=${a%/*}
    case "$a" in *:*) a="\"$a\"" ;; esac
    ips="${ips:+$ips, }$a"
  done
  cat <<EOF
# gbpd config entries for pod $name (host interface $host_if)
ports:
  - { name: $name, devargs: "$(devargs "$pmd")" }
endpoints:
  - { name: $name, tenant: $tenant, group: $group, port: $name, mac: "$mac", ips: [$ips] }
EOF
}

devargs() {
  case "$1" in
    af_packet) echo "net_af_packet_$name,iface=$host_if,qpairs=1" ;;
    af_xdp) echo "net_af_xdp_$name,iface=$host_if" ;;
  esac
}

case "$cmd" in
create)
  ips=(); mac=""; tenant="default"; group="default"; gw=""; offload_fix=1; pmd=af_packet
  while [ $# -gt 0 ]; do
    case "$1" in
      --ip) [ $# -ge 2 ] || die "--ip needs ADDRESS/PREFIX"; ips+=("$2"); shift 2 ;;
      --mac) [ $# -ge 2 ] || die "--mac needs a MAC address"; mac=$2; shift 2 ;;
      --tenant) [ $# -ge 2 ] || die "--tenant needs a name"; tenant=$2; shift 2 ;;
      --group) [ $# -ge 2 ] || die "--group needs a name"; group=$2; shift 2 ;;
      --gw) [ $# -ge 2 ] || die "--gw needs an address"; gw=$2; shift 2 ;;
      --pmd) [ $# -ge 2 ] || die "--pmd needs af_packet or af_xdp"; pmd=$2; shift 2 ;;
      --no-offload-fix) offload_fix=0; shift ;;
      *) die "unknown option '$1' (create takes --ip, --mac, --tenant, --group, --gw, --pmd, --no-offload-fix)" ;;
    esac
  done
  [ ${#ips[@]} -ge 1 ] || die "create needs at least one --ip ADDRESS/PREFIX (e.g. --ip 10.0.0.1/24)"
  case "$pmd" in af_packet|af_xdp) ;; *) die "--pmd '$pmd': use af_packet or af_xdp" ;; esac
  [ -n "$mac" ] || die "create needs --mac (e.g. --mac 02:00:00:00:0a:01)"
  [[ "$mac" =~ ^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$ ]] || die "--mac '$mac' is not a MAC address (aa:bb:cc:dd:ee:ff)"
  (( 0x${mac:0:2} & 1 )) && die "--mac '$mac' is a multicast address: the first byte must be even"
  mac=$(echo "$mac" | tr 'A-F' 'a-f')
  has_v6=0
  for a in "${ips[@]}"; do
    [[ "$a" == */* ]] || die "--ip '$a' needs a prefix length (e.g. 10.0.0.1/24)"
    case "$a" in *:*) has_v6=1 ;; esac
  done
  [ $offload_fix -eq 0 ] || need ethtool ethtool

  # The pieces that exist already must belong to this pod.
  if link_exists "$host_if"; then
    peer_ns=$(ip -o link show dev "$host_if" | grep -o 'link-netns [^ ]*' | awk '{print $2}' || true)
    [ "$peer_ns" = "$name" ] || die "interface $host_if exists but its peer is not in namespace $name; delete it first: ip link del $host_if"
  fi
  ns_exists || ip netns add "$name"
  if ! link_exists "$host_if"; then
    # The pod end is created under a temporary name in the host, moved into the
    # namespace, then renamed eth0 there (the host may have an eth0 of its own).
    tmp_if="gbpt$$"
    ip netns exec "$name" ip link show dev "$pod_if" >/dev/null 2>&1 &&
      die "namespace $name already has an $pod_if not connected to $host_if; delete the pod first: $prog delete $name"
    ip link add "$host_if" type veth peer name "$tmp_if"
    ip link set "$tmp_if" netns "$name"
    ip netns exec "$name" ip link set "$tmp_if" name "$pod_if"
  fi

  # Host end: no address, no IPv6 (the host must not send router solicitations
  # or MLD reports into gbpd), up.
  if [ -e "/proc/sys/net/ipv6/conf/$host_if/disable_ipv6" ]; then
    echo 1 > "/proc/sys/net/ipv6/conf/$host_if/disable_ipv6"
  fi
  ip addr flush dev "$host_if"
  ip link set "$host_if" up

  # Pod end. Without an IPv6 address the pod speaks no IPv6 at all (no DAD, no
  # router solicitations): gbpd would only drop them.
  in_ns() { ip netns exec "$name" "$@"; }
  in_ns ip link set lo up
  in_ns ip link set "$pod_if" down
  in_ns ip link set "$pod_if" address "$mac"
  if [ $has_v6 -eq 1 ]; then
    in_ns sh -c "echo 0 > /proc/sys/net/ipv6/conf/$pod_if/disable_ipv6"
    # No DAD: gbpd answers neighbour solicitations for endpoints itself, and the
    # address should be usable at once.
    in_ns sh -c "echo 0 > /proc/sys/net/ipv6/conf/$pod_if/accept_dad"
  elif in_ns test -e "/proc/sys/net/ipv6/conf/$pod_if/disable_ipv6"; then
    in_ns sh -c "echo 1 > /proc/sys/net/ipv6/conf/$pod_if/disable_ipv6"
  fi
  in_ns ip addr flush dev "$pod_if"
  for a in "${ips[@]}"; do
    case "$a" in
      *:*) in_ns ip -6 addr add "$a" dev "$pod_if" nodad ;;
      *) in_ns ip addr add "$a" dev "$pod_if" ;;
    esac
  done
  if [ $offload_fix -eq 1 ]; then
    in_ns ethtool -K "$pod_if" tx off >/dev/null 2>&1 ||
      die "ethtool -K $pod_if tx off failed in namespace $name"
  fi
  in_ns ip link set "$pod_if" up
  # Default route: via --gw, or on-link (every address is asked for by ARP on
  # eth0; gbpd answers for the endpoints of the pod's tenant).
  if [ -n "$gw" ]; then
    in_ns ip route replace default via "$gw" dev "$pod_if"
  else
    in_ns ip route replace default dev "$pod_if" scope link
  fi
  if [ $has_v6 -eq 1 ]; then
    in_ns ip -6 route replace default dev "$pod_if" metric 1024 2>/dev/null || true
  fi

  print_entries "$mac" "$tenant" "$group" "$pmd" "${ips[@]}"
  ;;

show)
  ns_exists || die "no pod $name (no namespace $name)"
  mac=$(ip netns exec "$name" cat "/sys/class/net/$pod_if/address")
  mapfile -t ips < <(ip netns exec "$name" ip -o addr show dev "$pod_if" scope global | awk '{print $4}')
  print_entries "$mac" default default af_packet "${ips[@]}"
  ;;

delete)
  [ $# -eq 0 ] || die "delete takes only the pod name"
  # Deleting either end of a veth deletes both; deleting the namespace deletes
  # the pod end (and with it the host end).
  found=0
  # What still runs in the pod (servers started with ip netns exec) goes with it.
  if ns_exists; then
    pids=$(ip netns pids "$name" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      kill $pids 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$name" 2>/dev/null || true)
        [ -z "$pids" ] && break
        sleep 0.1
      done
      [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    fi
  fi
  if link_exists "$host_if"; then ip link del "$host_if"; found=1; fi
  if ns_exists; then ip netns del "$name"; found=1; fi
  if [ $found -eq 1 ]; then
    echo "pod $name deleted (namespace $name, interface $host_if)"
  else
    echo "pod $name: nothing to delete"
  fi
  ;;

*)
  die "unknown command '$cmd' (create, delete or show)"
  ;;
esac

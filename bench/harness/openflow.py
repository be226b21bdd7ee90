"""gbpd's policy as OpenFlow rules for Open vSwitch with conntrack: what a user would
deploy on OVS-DPDK instead of gbpd, with the same semantics for the benchmark's policy.

Tables (one ovs-ofctl flow file, OpenFlow 1.0 + Nicira extensions):

  0  anti-spoofing and source group: per endpoint, in_port + dl_src + nw_src ->
     reg0 = source group id, ct(zone = tenant, table=1). Anything else: drop
     (gbpd: spoofed_mac / spoofed_ip / unknown ingress).
  1  after conntrack: +trk+est or +trk+rel -> table 3 (replies and established
     packets pass without classification, like gbpd's FlowTable hit); +trk+new ->
     table 2; anything else (invalid) drops.
  2  destination group: per endpoint nw_dst -> reg1 = destination group, table 4.
     An address that is no endpoint: drop (gbpd without uplink: no_uplink).
  4  contracts: per rule and per (consumer, provider) pair and per port prefix, at
     OpenFlow priority 1000 + 2 x gbpd priority (+1 for deny, so deny wins at equal
     priority): allow -> ct(commit, zone) then table 3; deny -> drop. Intra-group
     traffic: allowed (gbpd's default) at priority 1. Priority 0: drop (no_contract).
  3  forwarding: per endpoint dl_dst -> output to the endpoint's port.

Port ranges become prefix matches (tp_dst=value/mask), as OVS has no range match.
Only what the benchmark policies use is translated (tenants, groups, endpoints with
IPv4 addresses, contracts consumer-to-provider with TCP/UDP rules); anything else
raises ValueError so that a benchmark never compares against a partial policy.
"""


def port_prefixes(lo, hi):
    """[(value, mask)] covering lo..hi exactly with 16-bit prefixes."""
    out = []
    while lo <= hi:
        size = lo & -lo if lo else 1 << 16
        while size > hi - lo + 1:
            size >>= 1
        out.append((lo, 0xFFFF & ~(size - 1)))
        lo += size
    return out


def parse_ports(items):
    """gbpd's port list ("80", "1000-2000", 443) -> [(lo, hi)]."""
    out = []
    for p in items or []:
        s = str(p)
        if "-" in s:
            a, b = s.split("-", 1)
            out.append((int(a), int(b)))
        else:
            out.append((int(s), int(s)))
    return out


def flows_for_policy(policy, port_numbers):
    """OpenFlow flow lines for a parsed gbpd policy (the dict of its YAML).

    port_numbers: {gbpd port name: OpenFlow port number}.  Returns (lines, counts)."""
    tenants = {t["name"]: i + 1 for i, t in enumerate(policy.get("tenants") or [])}
    groups = {}
    for g in policy.get("groups") or []:
        if g.get("intra_group", "allow") != "allow":
            raise ValueError(f"group {g['name']}: intra_group {g.get('intra_group')} is not translated")
        groups[(g["tenant"], g["name"])] = len(groups) + 1
    if policy.get("external_groups"):
        raise ValueError("external_groups are not translated to OpenFlow")
    src, dst, fwd = [], [], []
    for e in policy.get("endpoints") or []:
        zone, gid = tenants[e["tenant"]], groups[(e["tenant"], e["group"])]
        ofport = port_numbers[e["port"]]
        ips = e.get("ips") or []
        if any(":" in str(ip) for ip in ips):
            raise ValueError(f"endpoint {e['name']}: IPv6 is not translated")
        for ip in ips:
            src.append(f"table=0,priority=100,ip,in_port={ofport},dl_src={e['mac']},nw_src={ip},"
                       f"actions=load:{gid}->NXM_NX_REG0[],ct(zone={zone},table=1)")
            dst.append(f"table=2,priority=100,ip,reg2={zone},nw_dst={ip},actions=load:{gid}->NXM_NX_REG1[],resubmit(,4)")
        fwd.append(f"table=3,priority=100,dl_dst={e['mac']},actions=output:{ofport}")
    contract_flows = []
    for c in policy.get("contracts") or []:
        if c.get("direction", "consumer-to-provider") != "consumer-to-provider":
            raise ValueError(f"contract {c['name']}: direction {c.get('direction')} is not translated")
        zone = tenants[c["tenant"]]
        pairs = [(groups[(c["tenant"], a)], groups[(c["tenant"], b)])
                 for a in c.get("consumers") or [] for b in c.get("providers") or []]
        for r in c.get("rules") or []:
            proto = r.get("protocol", "any")
            if proto not in ("tcp", "udp"):
                raise ValueError(f"contract {c['name']} rule {r.get('name')}: protocol {proto} is not translated")
            deny = r.get("action", "allow") == "deny"
            prio = 1000 + 2 * int(r.get("priority", 0)) + (1 if deny else 0)
            action = "drop" if deny else f"ct(commit,zone={zone}),resubmit(,3)"
            for lo, hi in parse_ports(r.get("ports")) or [(0, 65535)]:
                for value, mask in port_prefixes(lo, hi):
                    m = "" if mask == 0 else (f",tp_dst={value}" if mask == 0xFFFF else f",tp_dst={value}/0x{mask:04x}")
                    for a, b in pairs:
                        contract_flows.append(f"table=4,priority={prio},{proto},reg0={a},reg1={b}{m},actions={action}")
    intra = [f"table=4,priority=1,ip,reg0={g},reg1={g},actions=ct(commit,zone={z}),resubmit(,3)"
             for (t, _), g in groups.items() for z in [tenants[t]]]
    # reg2 carries the zone (tenant) into table 2, set in table 1 from the ct zone's tenant: one zone per
    # tenant, and every endpoint's flow in table 0 names its zone, so table 1 sets it back per zone.
    ct_flows = []
    for zone in tenants.values():
        ct_flows += [
            f"table=1,priority=100,ct_state=+trk+est,ct_zone={zone},ip,actions=resubmit(,3)",
            f"table=1,priority=100,ct_state=+trk+rel,ct_zone={zone},ip,actions=resubmit(,3)",
            f"table=1,priority=90,ct_state=+trk+new,ct_zone={zone},ip,actions=load:{zone}->NXM_NX_REG2[],resubmit(,2)",
        ]
    lines = (src + ["table=0,priority=0,actions=drop"] + ct_flows + ["table=1,priority=0,actions=drop"]
             + dst + ["table=2,priority=0,actions=drop"] + fwd + ["table=3,priority=0,actions=drop"]
             + contract_flows + intra + ["table=4,priority=0,actions=drop"])
    counts = {"endpoints": len(fwd), "contract_flows": len(contract_flows), "flows": len(lines)}
    return lines, counts

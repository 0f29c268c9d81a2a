// The standard four-host test network, built from namespaces this test run owns:
//
//   lanhost 10.1.0.2 --- 10.1.0.1 branch 198.51.100.1 --- 198.51.100.2 hq 10.2.0.1 --- 10.2.0.2 hqhost
//
// The WAN uses TEST-NET-2 and the LANs 10.1/10.2: they exist only inside these namespaces.
import { Lab, type Netns } from './netns.ts';

export const ADDR = {
  lanhost: '10.1.0.2',
  branchLan: '10.1.0.1',
  branchWan: '198.51.100.1',
  hqWan: '198.51.100.2',
  hqLan: '10.2.0.1',
  hqhost: '10.2.0.2',
  branchSubnet: '10.1.0.0/24',
  hqSubnet: '10.2.0.0/24',
} as const;

export interface Topology {
  lab: Lab;
  lanhost: Netns;
  branch: Netns;
  hq: Netns;
  hqhost: Netns;
  /** Interface names inside each namespace. */
  ifs: { lanhost: string; branchLan: string; branchWan: string; hqWan: string; hqLan: string; hqhost: string };
}

export function buildTopology(opts: { wanMtu?: number } = {}): Topology {
  const lab = new Lab();
  try {
    const lanhost = lab.ns('lanhost'), branch = lab.ns('branch'), hq = lab.ns('hq'), hqhost = lab.ns('hqhost');
    const [lh, bl] = lab.link(lanhost, `${ADDR.lanhost}/24`, branch, `${ADDR.branchLan}/24`);
    const [bw, hw] = lab.link(branch, `${ADDR.branchWan}/24`, hq, `${ADDR.hqWan}/24`, opts.wanMtu);
    const [hl, hh] = lab.link(hq, `${ADDR.hqLan}/24`, hqhost, `${ADDR.hqhost}/24`);
    lanhost.ip('route', 'add', 'default', 'via', ADDR.branchLan);
    hqhost.ip('route', 'add', 'default', 'via', ADDR.hqLan);
    for (const gw of [branch, hq]) gw.run('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    return { lab, lanhost, branch, hq, hqhost, ifs: { lanhost: lh, branchLan: bl, branchWan: bw, hqWan: hw, hqLan: hl, hqhost: hh } };
  } catch (e) {
    void lab.destroy();
    throw e;
  }
}

// The branch behind a NAT router: a fifth namespace between branch and hq masquerades the
// branch's private WAN address behind 198.51.100.1 (what hq sees).
//
//   lanhost 10.1.0.2 --- 10.1.0.1 branch 192.168.1.2 --- 192.168.1.1 nat 198.51.100.1 --- 198.51.100.2 hq 10.2.0.1 --- 10.2.0.2 hqhost

export const NAT_ADDR = { branchWan: '192.168.1.2', natInside: '192.168.1.1', natOutside: '198.51.100.1' } as const;

export interface NatTopology extends Topology {
  nat: Netns;
  natIfs: { inside: string; outside: string };
  /** Replaces the masquerade rule (optionally mapping to a source port range) and flushes conntrack. */
  remap(ports?: string): void;
}

export function buildNatTopology(): NatTopology {
  const lab = new Lab();
  try {
    const lanhost = lab.ns('lanhost'), branch = lab.ns('branch'), nat = lab.ns('nat'), hq = lab.ns('hq'), hqhost = lab.ns('hqhost');
    const [lh, bl] = lab.link(lanhost, `${ADDR.lanhost}/24`, branch, `${ADDR.branchLan}/24`);
    const [bw, ni] = lab.link(branch, `${NAT_ADDR.branchWan}/24`, nat, `${NAT_ADDR.natInside}/24`);
    const [no, hw] = lab.link(nat, `${NAT_ADDR.natOutside}/24`, hq, `${ADDR.hqWan}/24`);
    const [hl, hh] = lab.link(hq, `${ADDR.hqLan}/24`, hqhost, `${ADDR.hqhost}/24`);
    lanhost.ip('route', 'add', 'default', 'via', ADDR.branchLan);
    branch.ip('route', 'add', 'default', 'via', NAT_ADDR.natInside);
    hqhost.ip('route', 'add', 'default', 'via', ADDR.hqLan);
    for (const gw of [branch, nat, hq]) gw.run('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    const remap = (ports?: string) => {
      nat.run('iptables', '-t', 'nat', '-F', 'POSTROUTING');
      nat.run('iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', no, '-p', 'udp', '-j', 'MASQUERADE', ...(ports ? ['--to-ports', ports] : []));
      nat.run('iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', no, '-j', 'MASQUERADE');
      try { nat.run('conntrack', '-F'); } catch { /* empty table */ }
    };
    remap();
    return {
      lab, lanhost, branch, hq, hqhost, nat, natIfs: { inside: ni, outside: no }, remap,
      ifs: { lanhost: lh, branchLan: bl, branchWan: bw, hqWan: hw, hqLan: hl, hqhost: hh },
    };
  } catch (e) {
    void lab.destroy();
    throw e;
  }
}

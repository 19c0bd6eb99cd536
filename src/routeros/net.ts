/**
 * Just enough IP arithmetic to validate a router config: parse IPv4/IPv6
 * addresses and prefixes, and tell whether two prefixes overlap.
 */

export interface Prefix {
  family: 4 | 6;
  /** The network address as a number (host bits cleared). */
  network: bigint;
  bits: number;
  /** Canonical text, e.g. 192.168.88.0/24. */
  text: string;
}

/** An interface address: the host address plus its prefix (e.g. 172.17.0.2/24). */
export interface InterfaceAddress {
  family: 4 | 6;
  address: bigint;
  prefix: Prefix;
  text: string;
}

function parseV4(s: string): bigint | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith("0"))) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseV6(s: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseV4(p);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  let n = 0n;
  for (const g of all) n = (n << 16n) | BigInt(g);
  return n;
}

export function parseIp(s: string): { family: 4 | 6; value: bigint } | null {
  const v4 = parseV4(s);
  if (v4 !== null) return { family: 4, value: v4 };
  if (s.includes(":")) {
    const v6 = parseV6(s);
    if (v6 !== null) return { family: 6, value: v6 };
  }
  return null;
}

function width(f: 4 | 6): number {
  return f === 4 ? 32 : 128;
}

function mask(f: 4 | 6, bits: number): bigint {
  const w = BigInt(width(f));
  return ((1n << w) - 1n) ^ ((1n << (w - BigInt(bits))) - 1n);
}

export function formatIp(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join(".");
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Collapse the longest run of zero groups (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== "0") { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return g.join(":");
  return `${g.slice(0, best).join(":")}::${g.slice(best + bestLen).join(":")}`;
}

function splitSlash(s: string): [string, number] | null {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return null;
  return [m[1]!, Number(m[2])];
}

/**
 * Parses a network prefix. With `strict`, host bits must be zero
 * (192.168.88.1/24 is refused as a route, since it is probably a typo).
 */
export function parsePrefix(s: string, strict = true): Prefix | null {
  const parts = splitSlash(s);
  if (!parts) return null;
  const ip = parseIp(parts[0]);
  if (!ip || parts[1] > width(ip.family)) return null;
  const network = ip.value & mask(ip.family, parts[1]);
  if (strict && network !== ip.value) return null;
  return { family: ip.family, network, bits: parts[1], text: `${formatIp(ip.family, network)}/${parts[1]}` };
}

/** Parses an address with its prefix length, e.g. 172.17.0.2/24. */
export function parseInterfaceAddress(s: string): InterfaceAddress | null {
  const parts = splitSlash(s);
  if (!parts) return null;
  const ip = parseIp(parts[0]);
  if (!ip || parts[1] > width(ip.family)) return null;
  const prefix = parsePrefix(`${parts[0]}/${parts[1]}`, false)!;
  return { family: ip.family, address: ip.value, prefix, text: `${formatIp(ip.family, ip.value)}/${parts[1]}` };
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const bits = Math.min(a.bits, b.bits);
  const m = mask(a.family, bits);
  return (a.network & m) === (b.network & m);
}

export function contains(p: Prefix, family: 4 | 6, address: bigint): boolean {
  return p.family === family && (address & mask(family, p.bits)) === p.network;
}

/** The tailnet's IPv4 CGNAT range: routed from the router to the container. */
export const TAILNET_V4 = "100.64.0.0/10";
export const MAGIC_DNS = "100.100.100.100";

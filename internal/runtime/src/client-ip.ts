import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';

/**
 * The client address of a request. `X-Forwarded-For` is believed only when
 * the direct peer is one of `Z4J_TRUSTED_PROXIES`, and then only up to the
 * first hop that is not itself a trusted proxy (right to left), so a client
 * cannot pick its own address by sending the header.
 */
export interface TrustedProxies {
  contains(address: string): boolean;
}

export function createTrustedProxies(cidrs: readonly string[]): TrustedProxies {
  const ranges = cidrs.map((entry) =>
    entry.includes('/') ? ipaddr.parseCIDR(entry) : ([ipaddr.parse(entry), entry.includes(':') ? 128 : 32] as const),
  );
  return {
    contains(address) {
      if (ranges.length === 0 || !ipaddr.isValid(address)) return false;
      const parsed = normalise(ipaddr.parse(address));
      return ranges.some(([range, bits]) => {
        const candidate = normalise(range);
        return candidate.kind() === parsed.kind() && parsed.match(candidate, candidate.kind() === range.kind() ? bits : bits - 96);
      });
    },
  };
}

function normalise(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

function bare(address: string): string {
  const trimmed = address.trim();
  return trimmed.startsWith('::ffff:') && trimmed.includes('.') ? trimmed.slice(7) : trimmed;
}

export function clientIp(request: IncomingMessage, trusted: TrustedProxies): string {
  const peer = bare(request.socket.remoteAddress ?? '');
  if (!trusted.contains(peer)) return peer;
  const header = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map(bare).filter(Boolean);
  for (let index = hops.length - 1; index >= 0; index -= 1) {
    const hop = hops[index] as string;
    if (!ipaddr.isValid(hop)) return peer;
    if (!trusted.contains(hop)) return hop;
  }
  return hops[0] ?? peer;
}

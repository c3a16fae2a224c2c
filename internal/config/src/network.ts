import ipaddr from 'ipaddr.js';

/**
 * Strict IP parsing: only dotted-quad IPv4 (ipaddr's lenient forms such as
 * `127.1` or `0x7f.0.0.1` are refused, because an operator who typed one
 * almost certainly made a mistake) and standard IPv6 text.
 */
function isStrictIp(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || (text.includes(':') && ipaddr.IPv6.isValid(text));
}

/** A bare IPv4/IPv6 address or a CIDR range such as `10.0.0.0/8` or `fd00::/8`. */
export function isIpOrCidr(text: string): boolean {
  if (!text.includes('/')) return isStrictIp(text);
  return ipaddr.IPv4.isValidCIDRFourPartDecimal(text) || (text.includes(':') && ipaddr.IPv6.isValidCIDR(text));
}

/**
 * True for `localhost`, 127.0.0.0/8 and ::1: hosts where plain http never
 * leaves the machine. `hostname` is as `URL#hostname` gives it (IPv6 in brackets).
 */
export function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (!isStrictIp(bare)) return false;
  return ipaddr.parse(bare).range() === 'loopback';
}

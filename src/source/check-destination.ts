// Where a URL fetch (a tarball download, a git fetch) may connect: by
// default only to public unicast addresses, never to loopback, private,
// link-local (cloud metadata), shared, multicast or reserved ones, so that a
// source URL cannot make the server reach into its own network. Names are
// resolved first and every address they resolve to is checked; the connection
// then goes to a checked address (no second lookup an attacker's DNS could
// answer differently). Numeric spellings (`0x7f000001`, `2130706433`,
// `0177.0.0.1`) are normalised by the URL parser before they get here.

import { lookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { SlipwayError } from '../core/errors.ts';

/** Which addresses a fetch may connect to. */
export type DestinationPolicy = (address: string) => boolean;

/** The default: public unicast only (IPv4-mapped IPv6 is read as the IPv4 address it maps). */
export const publicOnly: DestinationPolicy = (address) =>
  ipaddr.isValid(address) && ipaddr.process(address).range() === 'unicast';

/** Server setting SLIPWAY_ALLOW_PRIVATE_FETCH: anything. */
export const anyDestination: DestinationPolicy = () => true;

export function deniedDestination(host: string): SlipwayError {
  return new SlipwayError(
    'source.denied_destination',
    `${host} is not a public address: fetching from loopback, private and link-local addresses is off (server setting SLIPWAY_ALLOW_PRIVATE_FETCH)`,
  );
}

/** The URL's host as an address or name (IPv6 without its brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/** Resolves `host` (or takes it as it is when it is an address) and refuses it unless every address is allowed. */
export async function resolveAllowed(host: string, allowed: DestinationPolicy): Promise<string[]> {
  const addresses = isIP(host)
    ? [host]
    : await new Promise<string[]>((resolve, reject) =>
        lookup(host, { all: true, verbatim: true }, (err, found) =>
          err ? reject(err) : resolve(found.map((a) => a.address)),
        ),
      );
  if (addresses.length === 0 || !addresses.every(allowed)) throw deniedDestination(host);
  return addresses;
}

/**
 * A `lookup` for node:net / node:http that answers only allowed addresses:
 * the check happens at the lookup the connection itself uses.
 */
export const checkedLookup =
  (allowed: DestinationPolicy): LookupFunction =>
  (hostname, options, callback) => {
    resolveAllowed(hostname, allowed).then(
      (addresses) => {
        const family = (a: string) => (isIP(a) === 6 ? 6 : 4);
        const asked = { IPv4: 4, IPv6: 6 }[String(options.family)] ?? Number(options.family ?? 0);
        const wanted = addresses.filter((a) => !asked || family(a) === asked);
        if (wanted.length === 0) {
          callback(deniedDestination(hostname), '', 4);
        } else if (options.all) {
          callback(null, wanted.map((address) => ({ address, family: family(address) })) as never, 4);
        } else {
          callback(null, wanted[0] as string, family(wanted[0] as string));
        }
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };

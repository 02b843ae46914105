// Link-layer header types (LINKTYPE_* values of the pcap/pcapng formats;
// numbers are the registry's, see the tcpdump.org link-layer header types list).

/** BSD loopback: 4-byte address family in the writer's host byte order. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** Raw IP; the version nibble tells IPv4 from IPv6. */
export const LINKTYPE_RAW = 101;
/** Linux "cooked" capture v1 (16-byte header). */
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
/** Linux "cooked" capture v2 (20-byte header). */
export const LINKTYPE_LINUX_SLL2 = 276;

const NAMES: Record<number, string> = {
  [LINKTYPE_NULL]: 'NULL',
  [LINKTYPE_ETHERNET]: 'EN10MB',
  [LINKTYPE_RAW]: 'RAW',
  [LINKTYPE_LINUX_SLL]: 'LINUX_SLL',
  [LINKTYPE_IPV4]: 'IPV4',
  [LINKTYPE_IPV6]: 'IPV6',
  [LINKTYPE_LINUX_SLL2]: 'LINUX_SLL2',
};

/** The short name tcpdump uses for a link type, or `LINKTYPE_<n>`. */
export function linkTypeName(linkType: number): string {
  return NAMES[linkType] ?? `LINKTYPE_${linkType}`;
}

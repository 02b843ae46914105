// The packet record every reader yields and every writer accepts.

/** One captured packet. */
export interface PacketRecord {
  /**
   * The captured bytes (`caplen` of them). A view into the input chunk when the
   * record lay whole inside one chunk, a fresh copy when it spanned chunks:
   * valid as long as the caller does not overwrite the chunks it fed.
   */
  readonly data: Uint8Array;
  /** Timestamp in nanoseconds since the Unix epoch (0n when the format has none, e.g. pcapng simple packet blocks). */
  readonly ts: bigint;
  /** Length of the packet on the wire (may exceed `caplen`). */
  readonly origLen: number;
  /** Bytes captured (= data.length). */
  readonly caplen: number;
  /** LINKTYPE_* of the interface the packet was captured on. */
  readonly linkType: number;
  /** Interface index within its pcapng section (always 0 for pcap). */
  readonly interfaceId: number;
  /** pcapng epb_flags option (direction, reception type, FCS length, errors), when present. */
  readonly flags?: number;
  /** pcapng opt_comment of the packet, when present (several are joined with "\n"). */
  readonly comment?: string;
}

/** What a writer needs of a packet: only `data` is required. */
export interface PacketInput {
  readonly data: Uint8Array;
  /** Nanoseconds since the epoch; default 0n. */
  readonly ts?: bigint;
  /** Default: data.length. */
  readonly origLen?: number;
  /** Default: the writer's link type (pcap) or Ethernet. */
  readonly linkType?: number;
  /** Default 0. */
  readonly interfaceId?: number;
  readonly flags?: number;
  readonly comment?: string;
}

export type CaptureFormat = 'pcap' | 'pcapng';

/** An interface as declared by a pcap file header or a pcapng interface description block. */
export interface InterfaceInfo {
  readonly linkType: number;
  /** 0 = no limit. */
  readonly snaplen: number;
  /**
   * Timestamp resolution as the pcapng if_tsresol byte: high bit clear = 10^-n s,
   * set = 2^-n s. Classic pcap: 6 (microseconds) or 9 (nanoseconds).
   */
  readonly tsresol: number;
  /** if_tsoffset: seconds added to every timestamp of this interface. */
  readonly tsOffset: bigint;
  readonly name?: string;
  readonly description?: string;
  readonly filter?: string;
  readonly os?: string;
  /** FCS bytes at the end of each frame, when the file says (pcap header F bit / if_fcslen). */
  readonly fcsLen?: number;
}

/** What the file (or the current pcapng section) header said. */
export interface CaptureInfo {
  readonly format: CaptureFormat;
  readonly littleEndian: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** pcapng: 0-based index of the current section. */
  readonly section: number;
  readonly hardware?: string;
  readonly os?: string;
  readonly userAppl?: string;
  readonly comment?: string;
}

/** Largest captured length accepted (libpcap's maximum snapshot length). */
export const MAX_CAPLEN = 262144;

/* Minimal declarations for the benchmark programs (self-contained: no libbpf
 * headers). Numbers and layouts are the Linux UAPI's (<linux/bpf.h>,
 * <linux/if_ether.h>, <linux/ip.h>, <linux/udp.h>, <linux/tcp.h>). */
#ifndef TSBPF_BENCH_H
#define TSBPF_BENCH_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed int __s32;

#define SEC(name) __attribute__((section(name), used))
#define __noinline __attribute__((noinline))
#define __always_inline inline __attribute__((always_inline))

/* BTF-defined maps, as libbpf reads them. */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

/* enum bpf_map_type */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_LRU_HASH 9

/* map update flags */
#define BPF_ANY 0
#define BPF_NOEXIST 1

/* enum xdp_action */
#define XDP_ABORTED 0
#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3

struct xdp_md {
  __u32 data;
  __u32 data_end;
  __u32 data_meta;
  __u32 ingress_ifindex;
  __u32 rx_queue_index;
  __u32 egress_ifindex;
};

/* Helpers by their BPF_FUNC_* number. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;

#define ETH_P_IP 0x0800
#define ETH_P_8021Q 0x8100
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

struct ethhdr {
  __u8 h_dest[6];
  __u8 h_source[6];
  __u16 h_proto;
} __attribute__((packed));

struct iphdr {
  __u8 ihl_version; /* little-endian bitfield order: ihl in the low nibble */
  __u8 tos;
  __u16 tot_len;
  __u16 id;
  __u16 frag_off;
  __u8 ttl;
  __u8 protocol;
  __u16 check;
  __u32 saddr;
  __u32 daddr;
};

struct udphdr {
  __u16 source;
  __u16 dest;
  __u16 len;
  __u16 check;
};

/* The first 20 bytes of a TCP header, as far as the programs read. */
struct tcphdr {
  __u16 source;
  __u16 dest;
  __u32 seq;
  __u32 ack_seq;
  __u16 flags;
  __u16 window;
  __u16 check;
  __u16 urg_ptr;
};

#define bswap16(x) __builtin_bswap16(x)
#define htons(x) __builtin_bswap16(x)

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#endif

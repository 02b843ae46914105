/* A Katran-style layer-4 load balancer without encapsulation: parse
 * Ethernet/IPv4/UDP|TCP, find the virtual service of the packet, hash the
 * flow, pick a backend from the service's slice of a backend array, rewrite
 * the destination IP and the MAC addresses, fix the IPv4 and L4 checksums
 * incrementally (RFC 1624) and send the packet back out (XDP_TX).
 *
 * A service is matched on destination port and protocol (a service on every
 * address of the host) and the flow hash leaves the destination address out,
 * so the rewrite is idempotent: BPF_PROG_TEST_RUN's repeat loop runs the
 * program again on the packet it rewrote, and every run takes the same path. */
#include "bench.h"

struct vip_key {
  __u16 port;
  __u8 proto;
  __u8 pad;
};

struct vip_info {
  __u32 first;  /* first backend index */
  __u32 count;  /* number of backends */
};

struct backend {
  __u32 addr;
  __u8 mac[6];
  __u16 pad;
};

struct lb_stats {
  __u64 packets;
  __u64 bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 512);
  __type(key, struct vip_key);
  __type(value, struct vip_info);
} vips SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct backend);
} backends SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct lb_stats);
} lb_stats SEC(".maps");

/* A 32-bit integer finaliser (xorshift-multiply, two rounds). */
static __always_inline __u32 mix32(__u32 h)
{
  h ^= h >> 16;
  h *= 0x7feb352dU;
  h ^= h >> 15;
  h *= 0x846ca68bU;
  h ^= h >> 16;
  return h;
}

static __always_inline __u16 csum_fold(__u32 s)
{
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (__u16)~s;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 32-bit field. Ones'
 * complement sums do not depend on byte order, so raw words are used. */
static __always_inline void csum_replace4(__u16 *check, __u32 from, __u32 to)
{
  __u32 s = (__u16)~*check;
  s += (__u16)~(from & 0xffff);
  s += (__u16)~(from >> 16);
  s += to & 0xffff;
  s += to >> 16;
  *check = csum_fold(s);
}

SEC("xdp")
int lb(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end)
    return XDP_DROP;
  if (eth->h_proto != htons(ETH_P_IP))
    return XDP_PASS;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end)
    return XDP_DROP;
  if (ip->ihl_version != 0x45)   /* no IP options */
    return XDP_PASS;
  if (ip->frag_off & htons(0x3fff))  /* fragments go to the slow path */
    return XDP_PASS;
  __u8 proto = ip->protocol;
  __u16 *l4check;
  __u16 sport, dport;
  if (proto == IPPROTO_UDP) {
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end)
      return XDP_DROP;
    sport = udp->source;
    dport = udp->dest;
    l4check = &udp->check;
  } else if (proto == IPPROTO_TCP) {
    struct tcphdr *tcp = (void *)(ip + 1);
    if ((void *)(tcp + 1) > end)
      return XDP_DROP;
    sport = tcp->source;
    dport = tcp->dest;
    l4check = &tcp->check;
  } else {
    return XDP_PASS;
  }
  struct vip_key vk = { .port = dport, .proto = proto };
  struct vip_info *vip = bpf_map_lookup_elem(&vips, &vk);
  if (!vip || vip->count == 0)
    return XDP_PASS;
  __u32 h = mix32(ip->saddr ^ mix32(((__u32)sport << 16 | dport) ^ proto * 0x9e3779b9U));
  __u32 idx = vip->first + h % vip->count;
  struct backend *be = bpf_map_lookup_elem(&backends, &idx);
  if (!be)
    return XDP_ABORTED;
  __u32 old = ip->daddr;
  ip->daddr = be->addr;
  csum_replace4(&ip->check, old, be->addr);
  /* UDP over IPv4 may carry no checksum (0); TCP always does. */
  if (proto == IPPROTO_TCP || *l4check != 0) {
    csum_replace4(l4check, old, be->addr);
    if (proto == IPPROTO_UDP && *l4check == 0)
      *l4check = 0xffff;
  }
  __builtin_memcpy(eth->h_source, eth->h_dest, 6);
  __builtin_memcpy(eth->h_dest, be->mac, 6);
  __u32 zero = 0;
  struct lb_stats *st = bpf_map_lookup_elem(&lb_stats, &zero);
  if (st) {
    __sync_fetch_and_add(&st->packets, 1);
    __sync_fetch_and_add(&st->bytes, (__u64)(end - data));
  }
  return XDP_TX;
}

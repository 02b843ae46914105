/* Ethernet (one optional 802.1Q tag) / IPv4 / UDP or TCP parsing with a
 * per-protocol packet and byte counter. Everything else passes uncounted. */
#include "bench.h"

struct proto_stats {
  __u64 packets;
  __u64 bytes;
  __u64 l4_bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, struct proto_stats);
} proto_stats SEC(".maps");

SEC("xdp")
int parse_count(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  __u32 off = sizeof(*eth);
  if ((void *)(eth + 1) > end)
    return XDP_DROP;
  __u16 proto = eth->h_proto;
  if (proto == htons(ETH_P_8021Q)) {
    __u16 *tag = data + off;
    if ((void *)(tag + 2) > end)
      return XDP_DROP;
    proto = tag[1];
    off += 4;
  }
  if (proto != htons(ETH_P_IP))
    return XDP_PASS;
  struct iphdr *ip = data + off;
  if ((void *)(ip + 1) > end)
    return XDP_DROP;
  __u32 ihl = (ip->ihl_version & 0x0f) * 4;
  if (ihl < sizeof(*ip))
    return XDP_DROP;
  __u32 tot = bswap16(ip->tot_len);
  if (data + off + tot > end || tot < ihl)
    return XDP_DROP;
  __u32 key = ip->protocol;
  __u32 l4 = tot - ihl;
  void *l4h = data + off + ihl;
  if (key == IPPROTO_UDP) {
    struct udphdr *udp = l4h;
    if ((void *)(udp + 1) > end)
      return XDP_DROP;
    l4 = bswap16(udp->len);
  } else if (key == IPPROTO_TCP) {
    struct tcphdr *tcp = l4h;
    if ((void *)(tcp + 1) > end)
      return XDP_DROP;
    l4 -= (bswap16(tcp->flags) >> 12) * 4;
  }
  struct proto_stats *s = bpf_map_lookup_elem(&proto_stats, &key);
  if (!s)
    return XDP_ABORTED;
  __sync_fetch_and_add(&s->packets, 1);
  __sync_fetch_and_add(&s->bytes, (__u64)(end - data));
  __sync_fetch_and_add(&s->l4_bytes, l4);
  return XDP_PASS;
}

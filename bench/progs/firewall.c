/* A 5-tuple firewall: parse Ethernet/IPv4/UDP|TCP and look the flow up in a
 * hash map of rules (filled from user space). A rule says pass or drop and
 * counts its hits; a flow without a rule passes and is counted as a miss. */
#include "bench.h"

struct flow_key {
  __u32 saddr;
  __u32 daddr;
  __u16 sport;
  __u16 dport;
  __u8 proto;
  __u8 pad[3];
};

struct rule {
  __u32 action;
  __u32 pad;
  __u64 hits;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct flow_key);
  __type(value, struct rule);
} fw_rules SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} fw_misses SEC(".maps");

SEC("xdp")
int firewall(struct xdp_md *ctx)
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
  __u32 ihl = (ip->ihl_version & 0x0f) * 4;
  if (ihl < sizeof(*ip))
    return XDP_DROP;
  struct flow_key k = {};
  k.saddr = ip->saddr;
  k.daddr = ip->daddr;
  k.proto = ip->protocol;
  if (k.proto == IPPROTO_UDP || k.proto == IPPROTO_TCP) {
    __u16 *ports = (void *)ip + ihl;
    if ((void *)(ports + 2) > end)
      return XDP_DROP;
    k.sport = ports[0];
    k.dport = ports[1];
  }
  struct rule *r = bpf_map_lookup_elem(&fw_rules, &k);
  if (r) {
    __sync_fetch_and_add(&r->hits, 1);
    return r->action;
  }
  __u32 zero = 0;
  __u64 *miss = bpf_map_lookup_elem(&fw_misses, &zero);
  if (miss)
    __sync_fetch_and_add(miss, 1);
  return XDP_PASS;
}

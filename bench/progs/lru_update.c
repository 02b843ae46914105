/* LRU hash updates with pseudo-random keys: a xorshift64 generator whose
 * state lives in an array map (so every engine draws the same keys) picks
 * one of 65,536 keys; the entry of a 4,096-entry LRU hash is bumped, or
 * inserted (evicting the least recently used) when absent. */
#include "bench.h"

struct flow_stats {
  __u64 packets;
  __u64 bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} rng_state SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct flow_stats);
} lru_flows SEC(".maps");

SEC("xdp")
int lru_update(struct xdp_md *ctx)
{
  __u64 len = ctx->data_end - ctx->data;
  __u32 zero = 0;
  __u64 *state = bpf_map_lookup_elem(&rng_state, &zero);
  if (!state)
    return XDP_ABORTED;
  __u64 x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  __u32 key = (__u32)(x >> 20) & 0xffff;
  struct flow_stats *v = bpf_map_lookup_elem(&lru_flows, &key);
  if (v) {
    v->packets += 1;
    v->bytes += len;
  } else {
    struct flow_stats init = { 1, len };
    bpf_map_update_elem(&lru_flows, &key, &init, BPF_ANY);
  }
  return XDP_PASS;
}

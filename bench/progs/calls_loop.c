/* bpf-to-bpf calls: a loop of 32 iterations, each calling a function that
 * calls another twice (96 calls a run), all kept out of line. */
#include "bench.h"

static __noinline __u64 step(__u64 x, __u64 k)
{
  x ^= k;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

static __noinline __u64 round2(__u64 x, __u32 i)
{
  return step(step(x, i), i * 7 + 1);
}

SEC("xdp")
int calls_loop(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u64 *p = data;
  if ((void *)(p + 1) > end)
    return XDP_DROP;
  __u64 x = p[0];
#pragma clang loop unroll(disable)
  for (__u32 i = 0; i < 32; i++)
    x = round2(x, i);
  p[0] = x;
  return XDP_PASS;
}

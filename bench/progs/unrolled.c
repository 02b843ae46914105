/* A large straight-line program for compile and verification time (not
 * timed per packet): the first 64 bytes of the packet are copied to the
 * stack, then 512 fully unrolled steps of a branchy hash read them at
 * data-dependent offsets. */
#include "bench.h"

SEC("xdp")
int unrolled(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u64 *p = data;
  if ((void *)(p + 8) > end)
    return XDP_DROP;
  __u64 buf[8];
#pragma clang loop unroll(full)
  for (__u32 i = 0; i < 8; i++)
    buf[i] = p[i];
  __u8 *bytes = (__u8 *)buf;
  __u64 x = 0x243f6a8885a308d3ULL;
#pragma clang loop unroll(full)
  for (__u32 i = 0; i < 512; i++) {
    __u8 b = bytes[x & 63];
    if (b & 1)
      x = x * 31 + b;
    else
      x ^= (x >> 3) + i;
  }
  p[0] = x;
  return XDP_PASS;
}

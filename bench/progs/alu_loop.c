/* Pure computation: 256 iterations of 64-bit ALU work (add, xor, rotate,
 * multiply, shifts) seeded from the packet; the result is written back into
 * the first 16 bytes of the packet so that it can be compared. */
#include "bench.h"

SEC("xdp")
int alu_loop(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u64 *p = data;
  if ((void *)(p + 2) > end)
    return XDP_DROP;
  __u64 x = p[0], y = p[1];
#pragma clang loop unroll(disable)
  for (__u32 i = 0; i < 256; i++) {
    x += y ^ i;
    x = (x << 13) | (x >> 51);
    y = y * 0x9e3779b97f4a7c15ULL + x;
    y ^= y >> 29;
    x -= y & 0xffff;
  }
  p[0] = x;
  p[1] = y;
  return XDP_PASS;
}

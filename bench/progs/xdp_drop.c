/* Per-run overhead: the smallest XDP program there is. */
#include "bench.h"

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
  return XDP_DROP;
}

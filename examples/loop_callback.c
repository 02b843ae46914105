// bpf_loop with a callback: the callback's address is an LD_IMM64 of a
// function (BPF_PSEUDO_FUNC once loaded).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sum_ctx {
	__u64 sum;
	__u32 limit;
};

static int add_index(__u32 index, struct sum_ctx *c)
{
	if (index >= c->limit)
		return 1; /* stop */
	c->sum += index;
	return 0;
}

static int add_square(__u32 index, struct sum_ctx *c)
{
	c->sum += (__u64)index * index;
	return 0;
}

SEC("xdp")
int sum_loop(struct xdp_md *ctx)
{
	struct sum_ctx c = { .sum = 0, .limit = 10 };

	bpf_loop(16, add_index, &c, 0);
	bpf_loop(4, add_square, &c, 0);
	return c.sum == 45 + 14 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";

// Tail calls through a program array filled by `values` initialisers, and a
// map-in-map (array of maps) whose slots are filled the same way.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct stage_counts {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} counts_a SEC(".maps"), counts_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct stage_counts);
} count_tables SEC(".maps") = {
	.values = { &counts_a, &counts_b },
};

int stage_one(struct xdp_md *ctx);
int stage_two(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} stages SEC(".maps") = {
	.values = {
		[1] = (void *)&stage_one,
		[3] = (void *)&stage_two,
	},
};

static __always_inline void bump(__u32 table, __u32 slot)
{
	__u64 *v;
	void *m = bpf_map_lookup_elem(&count_tables, &table);

	if (!m)
		return;
	v = bpf_map_lookup_elem(m, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int stage_one(struct xdp_md *ctx)
{
	bump(0, 1);
	bpf_tail_call(ctx, &stages, 3);
	return XDP_PASS;
}

SEC("xdp")
int stage_two(struct xdp_md *ctx)
{
	bump(1, 2);
	return XDP_PASS;
}

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
	bump(0, 0);
	bpf_tail_call(ctx, &stages, 1);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";

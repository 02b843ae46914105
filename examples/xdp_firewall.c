// XDP firewall: IPv4 source prefixes in an LPM trie map to rules; every rule
// has per-CPU packet/byte counters; drops are reported through a ring buffer.
// Built with BTF (-g): BTF-defined maps, .rodata config, .bss totals.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct v4_prefix {
	__u32 prefixlen; /* bits of addr that must match */
	__u32 addr;      /* network byte order */
};

struct fw_rule {
	__u32 id;     /* index into rule_hits */
	__u32 action; /* XDP_PASS or XDP_DROP */
};

struct hit_counter {
	__u64 packets;
	__u64 bytes;
};

struct drop_event {
	__u32 saddr;
	__u32 rule_id;
	__u16 len;
	__u8 proto;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct v4_prefix);
	__type(value, struct fw_rule);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} fw_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct hit_counter);
	__uint(max_entries, 256);
} rule_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} drop_events SEC(".maps");

/* Set by the loader before the program is loaded. */
const volatile __u32 cfg_default_action = XDP_PASS;
const volatile __u8 cfg_report_drops = 1;

/* Packets seen, all rules together. */
__u64 seen_packets;

static __noinline void account(__u32 rule_id, __u32 len)
{
	struct hit_counter *c = bpf_map_lookup_elem(&rule_hits, &rule_id);

	if (!c)
		return;
	c->packets++;
	c->bytes += len;
}

static __noinline void report_drop(__u32 saddr, __u32 rule_id, __u16 len, __u8 proto)
{
	struct drop_event *e = bpf_ringbuf_reserve(&drop_events, sizeof(*e), 0);

	if (!e)
		return;
	e->saddr = saddr;
	e->rule_id = rule_id;
	e->len = len;
	e->proto = proto;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct v4_prefix key;
	struct fw_rule *rule;
	__u32 len = data_end - data;

	__sync_fetch_and_add(&seen_packets, 1);
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;

	key.prefixlen = 32;
	key.addr = ip->saddr;
	rule = bpf_map_lookup_elem(&fw_rules, &key);
	if (!rule)
		return cfg_default_action;
	account(rule->id, len);
	if (rule->action == XDP_DROP && cfg_report_drops)
		report_drop(ip->saddr, rule->id, len, ip->protocol);
	return rule->action;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

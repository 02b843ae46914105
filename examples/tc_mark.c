// TC classifier: marks packets by destination port (hash map of port -> mark)
// and counts marked packets per mark.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);   /* destination port, host order */
	__type(value, __u32); /* mark */
	__uint(max_entries, 64);
} port_marks SEC(".maps");

struct mark_stats {
	__u64 packets;
	__u64 last_len;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, struct mark_stats);
	__uint(max_entries, 128);
} marked SEC(".maps");

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	__u16 port = (__u16)(skb->local_port & 0xffff);
	__u32 *mark = bpf_map_lookup_elem(&port_marks, &port);
	struct mark_stats *s, init = {};

	if (!mark)
		return TC_ACT_OK;
	skb->mark = *mark;
	s = bpf_map_lookup_elem(&marked, mark);
	if (!s) {
		init.packets = 1;
		init.last_len = skb->len;
		bpf_map_update_elem(&marked, mark, &init, BPF_NOEXIST);
		return TC_ACT_OK;
	}
	__sync_fetch_and_add(&s->packets, 1);
	s->last_len = skb->len;
	return TC_ACT_OK;
}

SEC("tc/ingress")
int tc_drop_marked(struct __sk_buff *skb)
{
	return skb->mark == 0xdead ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";

// TC classifier: marks IPv4 UDP/TCP packets by destination port (hash map of
// port -> mark) and counts marked packets per mark.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

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

static __always_inline int dest_port(struct __sk_buff *skb, __u16 *port)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u16 *ports;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return -1;
	/* Source and destination ports open both headers; options ignored. */
	ports = (void *)(ip + 1);
	if ((void *)(ports + 2) > data_end)
		return -1;
	*port = bpf_ntohs(ports[1]);
	return 0;
}

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	__u16 port;
	__u32 *mark;
	struct mark_stats *s, init = {};

	if (dest_port(skb, &port))
		return TC_ACT_OK;
	mark = bpf_map_lookup_elem(&port_marks, &port);
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

SEC("tc")
int tc_drop_marked(struct __sk_buff *skb)
{
	return skb->mark == 0xdead ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";

// XDP guard, the program of the replay demo:
//
//   tsbpf run examples/xdp_guard.o --pcap examples/traffic.pcap --out-drop drops.pcap
//
// - TCP SYNs (SYN without ACK) are counted per source /24 in an LRU hash;
//   above cfg_syn_burst SYNs within one second (the packets' own timestamps,
//   through bpf_ktime_get_ns) the rest of that second is dropped;
// - ICMP echo requests are answered in place: MAC and IP addresses swapped,
//   type 0, checksum adjusted -> XDP_TX;
// - DNS queries (UDP to port 53) go to the resolver's interface -> XDP_REDIRECT;
// - everything else passes.
// Packets per verdict are counted in a per-CPU array.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/icmp.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define NSEC_PER_SEC 1000000000ULL

struct syn_window {
	__u64 start_ns; /* start of the current one-second window */
	__u32 syns;     /* SYNs seen in it */
	__u32 dropped;  /* SYNs dropped, all windows */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32); /* source /24, network byte order */
	__type(value, struct syn_window);
	__uint(max_entries, 4096);
} syn_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32); /* XDP action */
	__type(value, __u64);
	__uint(max_entries, 5);
} verdicts SEC(".maps");

const volatile __u32 cfg_syn_burst = 64;
const volatile __u32 cfg_resolver_ifindex = 2;

static __always_inline int count(int action)
{
	__u32 key = action;
	__u64 *n = bpf_map_lookup_elem(&verdicts, &key);

	if (n)
		*n += 1;
	return action;
}

static __always_inline int syn_allowed(__u32 saddr)
{
	__u32 key = saddr & bpf_htonl(0xffffff00);
	__u64 now = bpf_ktime_get_ns();
	struct syn_window *w = bpf_map_lookup_elem(&syn_sources, &key);

	if (!w) {
		struct syn_window fresh = { .start_ns = now, .syns = 1 };

		bpf_map_update_elem(&syn_sources, &key, &fresh, BPF_ANY);
		return 1;
	}
	if (now - w->start_ns >= NSEC_PER_SEC) {
		w->start_ns = now;
		w->syns = 0;
	}
	w->syns++;
	if (w->syns <= cfg_syn_burst)
		return 1;
	w->dropped++;
	return 0;
}

static __always_inline int echo_reply(struct ethhdr *eth, struct iphdr *ip, struct icmphdr *icmp)
{
	unsigned char mac[ETH_ALEN];
	__u32 addr;
	__u32 sum;

	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	/* type 8 -> 0: add the old word back into the one's complement sum (RFC 1624) */
	icmp->type = ICMP_ECHOREPLY;
	sum = (__u32)icmp->checksum + bpf_htons(ICMP_ECHO << 8);
	icmp->checksum = (__u16)(sum + (sum >> 16));
	return XDP_TX;
}

SEC("xdp")
int xdp_guard(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return count(XDP_PASS);
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5)
		return count(XDP_PASS);

	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);

		if ((void *)(tcp + 1) > data_end)
			return count(XDP_PASS);
		if (tcp->syn && !tcp->ack && !syn_allowed(ip->saddr))
			return count(XDP_DROP);
	} else if (ip->protocol == IPPROTO_ICMP) {
		struct icmphdr *icmp = (void *)(ip + 1);

		if ((void *)(icmp + 1) > data_end)
			return count(XDP_PASS);
		if (icmp->type == ICMP_ECHO && icmp->code == 0)
			return count(echo_reply(eth, ip, icmp));
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip + 1);

		if ((void *)(udp + 1) > data_end)
			return count(XDP_PASS);
		if (udp->dest == bpf_htons(53))
			return count(bpf_redirect(cfg_resolver_ifindex, 0));
	}
	return count(XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

// Socket filter counting IPv4 packets per IP protocol, written the old way:
// LD_ABS packet loads and a legacy `maps` section (struct bpf_map_def, no
// BTF). Built without -g.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <stddef.h>

#define SEC(name) __attribute__((section(name), used))

struct legacy_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

static void *(*lookup)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

struct legacy_map_def SEC("maps") proto_packets = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 256,
};

struct legacy_map_def SEC("maps") proto_bytes = {
	.type = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 256,
};

SEC("socket")
int count_protocols(struct __sk_buff *skb)
{
	__u32 proto;
	__u64 *v;

	if (load_half(skb, offsetof(struct ethhdr, h_proto)) != ETH_P_IP)
		return 0;
	proto = load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol));
	v = lookup(&proto_packets, &proto);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = lookup(&proto_bytes, &proto);
	if (v)
		*v += skb->len;
	return 0; /* count only, deliver nothing to the socket */
}

char _license[] SEC("license") = "GPL";
unsigned int _version SEC("version") = 0x050a00;

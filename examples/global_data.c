// Global data in every flavour (.rodata, .data, .bss, custom .data.* and
// .rodata.* sections, string literals) and bpf-to-bpf calls: static and
// global functions in .text, called from two programs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 cfg_port = 8080;
const volatile __u64 cfg_limit = 1000000;
const volatile char cfg_name[8] = "tsbpf";

__u32 hits = 7;                        /* .data */
__u64 drops;                           /* .bss */
__u32 histogram[8];                    /* .bss */
__u64 stats_total SEC(".data.stats") = 1;
const volatile __u32 table_seed SEC(".rodata.tables") = 0x9e3779b9;

static __noinline __u32 mix(__u32 x)
{
	x ^= table_seed;
	x *= 0x85ebca6b;
	return x ^ (x >> 13);
}

__noinline int classify(__u32 len)
{
	__u32 bucket = mix(len) & 7;

	histogram[bucket]++;
	return len > cfg_port ? 1 : 0;
}

static __noinline int over_limit(__u64 n)
{
	return n > cfg_limit;
}

SEC("socket")
int data_user(struct __sk_buff *skb)
{
	char msg[] = "hit";

	hits++;
	stats_total += skb->len;
	if (over_limit(stats_total)) {
		drops++;
		bpf_trace_printk(msg, sizeof(msg));
		return 0;
	}
	return classify(skb->len) ? skb->len : 0;
}

SEC("socket")
int name_user(struct __sk_buff *skb)
{
	static const char fmt[] = "name %s\n";

	bpf_trace_printk(fmt, sizeof(fmt), cfg_name);
	return classify(skb->len + 1);
}

char LICENSE[] SEC("license") = "GPL";

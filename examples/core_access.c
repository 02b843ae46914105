// CO-RE relocations against a struct defined here (preserve_access_index):
// field offsets, sizes, existence, bitfields, type and enum queries.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

enum conn_state { CONN_NEW = 1, CONN_OPEN = 2, CONN_CLOSED = 7 };

struct conn_info {
	__u32 id;
	__u16 sport;
	__u16 dport;
	struct {
		__u64 bytes;
		__u32 flags: 3;
		__s32 level: 5;
	} stats;
	enum conn_state state;
	char name[12];
} __attribute__((preserve_access_index));

struct conn_info sample;

SEC("raw_tp/sys_enter")
int read_conn(void *ctx)
{
	struct conn_info *c = &sample;
	__u64 r = 0;

	r += BPF_CORE_READ(c, dport);
	r += c->stats.bytes;
	r += bpf_core_field_size(c->name);
	if (bpf_core_field_exists(c->state))
		r += 1;
	r += BPF_CORE_READ_BITFIELD_PROBED(c, stats.level);
	r += BPF_CORE_READ_BITFIELD(c, stats.flags);
	r += bpf_core_type_size(struct conn_info);
	if (bpf_core_type_exists(struct conn_info))
		r += 2;
	if (bpf_core_enum_value_exists(enum conn_state, CONN_CLOSED))
		r += bpf_core_enum_value(enum conn_state, CONN_CLOSED);
	r += bpf_core_type_id_local(struct conn_info);
	return r;
}

char LICENSE[] SEC("license") = "GPL";

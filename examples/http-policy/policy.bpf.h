/* What both policy versions share: the maps, route matching, the token
 * bucket and the accounting. Each version includes it with its own
 * RATE_PER_SEC / BURST and its own decide(). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "policy.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32); /* client IPv4 */
	__type(value, struct bucket);
	__uint(max_entries, 1024);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32); /* route */
	__type(value, struct route_stats);
	__uint(max_entries, NR_ROUTES);
} route_stats SEC(".maps");

static __always_inline int prefix(const struct http_req *r, const char *p, int n)
{
	for (int i = 0; i < n; i++)
		if (r->path[i] != p[i])
			return 0;
	return 1;
}

static __always_inline __u32 route_of(const struct http_req *r)
{
	if (prefix(r, "/api/", 5))
		return ROUTE_API;
	if (prefix(r, "/admin", 6))
		return ROUTE_ADMIN;
	if (prefix(r, "/static/", 8))
		return ROUTE_STATIC;
	if (prefix(r, "/health", 7))
		return ROUTE_HEALTH;
	return ROUTE_OTHER;
}

/* Take a token from the client's bucket; 0 and the seconds to wait when empty. */
static __always_inline int take_token(__u32 client, __u32 *retry_after)
{
	__u64 now = bpf_ktime_get_ns();
	struct bucket *b = bpf_map_lookup_elem(&buckets, &client);
	__u64 t;

	if (!b) {
		struct bucket fresh = { .milli_tokens = (BURST - 1) * 1000, .last_ns = now };

		bpf_map_update_elem(&buckets, &client, &fresh, BPF_ANY);
		return 1;
	}
	t = b->milli_tokens + (now - b->last_ns) * RATE_PER_SEC / 1000000;
	if (t > BURST * 1000)
		t = BURST * 1000;
	b->last_ns = now;
	if (t >= 1000) {
		b->milli_tokens = t - 1000;
		return 1;
	}
	b->milli_tokens = t;
	*retry_after = ((1000 - t) / RATE_PER_SEC + 999) / 1000;
	if (*retry_after == 0)
		*retry_after = 1;
	return 0;
}

static __always_inline int account(__u32 route, int verdict)
{
	struct route_stats *s = bpf_map_lookup_elem(&route_stats, &route);

	if (s) {
		if (verdict == VERDICT_ALLOW)
			s->allowed++;
		else if (verdict == VERDICT_DENY)
			s->denied++;
		else
			s->limited++;
	}
	return verdict;
}

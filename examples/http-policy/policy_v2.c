// HTTP request policy, version 2 (swapped in while the server runs): as
// version 1, plus bots may not use /api, health checks are never rate
// limited, and the bucket is bigger (20 a second, bursts of 40). Shares
// version 1's maps: buckets and counters carry over.
#define RATE_PER_SEC 20
#define BURST 40
#include "policy.bpf.h"

SEC("http_request")
int policy_v2(struct http_req *req)
{
	__u32 route = route_of(req);
	__u32 retry = 0;

	req->route = route;
	if (route == ROUTE_HEALTH)
		return account(route, VERDICT_ALLOW);
	if (route == ROUTE_ADMIN && !(req->flags & REQ_HAS_AUTH)) {
		req->reason = REASON_NO_AUTH;
		return account(route, VERDICT_DENY);
	}
	if (route == ROUTE_API && (req->flags & REQ_IS_BOT)) {
		req->reason = REASON_BOT;
		return account(route, VERDICT_DENY);
	}
	if (route == ROUTE_STATIC && req->method != HTTP_GET && req->method != HTTP_HEAD) {
		req->reason = REASON_READ_ONLY;
		return account(route, VERDICT_DENY);
	}
	if (!take_token(req->client_ip4, &retry)) {
		req->retry_after = retry;
		return account(route, VERDICT_LIMIT);
	}
	return account(route, VERDICT_ALLOW);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

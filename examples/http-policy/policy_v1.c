// HTTP request policy, version 1: /admin needs an Authorization header,
// /static is read-only, every client gets 5 requests a second (bursts of
// 10) from a token bucket. Runs at server.mjs's `http_request` hook.
#define RATE_PER_SEC 5
#define BURST 10
#include "policy.bpf.h"

SEC("http_request")
int policy_v1(struct http_req *req)
{
	__u32 route = route_of(req);
	__u32 retry = 0;

	req->route = route;
	if (route == ROUTE_ADMIN && !(req->flags & REQ_HAS_AUTH)) {
		req->reason = REASON_NO_AUTH;
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

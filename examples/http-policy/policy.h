/* The context an HTTP server hands to its policy programs, one per request
 * (examples/http-policy): the server fills the inputs, the program returns a
 * verdict and may fill the outputs. server.mjs declares its hook from this
 * struct as the compiled object's BTF describes it. */
#ifndef HTTP_POLICY_H
#define HTTP_POLICY_H

#include <linux/types.h>

enum http_method { HTTP_OTHER, HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE };

/* Header flags. */
#define REQ_HAS_AUTH 1 /* an Authorization header */
#define REQ_IS_BOT   2 /* a User-Agent naming a bot, crawler or spider */

/* Verdicts (the hook's return value; ALLOW is the default). */
enum { VERDICT_ALLOW, VERDICT_DENY, VERDICT_LIMIT };

/* Routes, by path prefix. */
enum { ROUTE_OTHER, ROUTE_API, ROUTE_ADMIN, ROUTE_STATIC, ROUTE_HEALTH, NR_ROUTES };

/* Why a request was denied. */
enum { REASON_NONE, REASON_NO_AUTH, REASON_READ_ONLY, REASON_BOT };

struct http_req {
	__u32 method;      /* enum http_method */
	__u32 client_ip4;  /* IPv4 address of the client, network byte order */
	__u32 flags;       /* REQ_* */
	__u32 route;       /* out: the route the policy filed the request under */
	__u32 retry_after; /* out: seconds to wait, with VERDICT_LIMIT */
	__u32 reason;      /* out: REASON_*, with VERDICT_DENY */
	char path[32];     /* the path's first 32 bytes, NUL padded */
};

/* A token bucket per client, in thousandths of a token. */
struct bucket {
	__u64 milli_tokens;
	__u64 last_ns;
};

/* Per route, summed over CPUs by the server. */
struct route_stats {
	__u64 allowed;
	__u64 denied;
	__u64 limited;
};

#endif

// bpf-oracle: drive the Linux kernel's eBPF (bpf(2) syscall) as a reference
// for tsbpf's tests and benchmarks. Original code written for tsbpf (MIT);
// it uses only the UAPI header <linux/bpf.h> (numbers and layouts) and the raw
// syscall, no libbpf.
//
// Build:  gcc -O2 -Wall -o bpf-oracle native/bpf-oracle.c
//
// Protocol (easy to produce from TypeScript, one request or many):
//   Every setting is a line `key value...` on stdin, or the same pair given as
//   argv (`--key value`, `--unpriv` alone means `unpriv 1`). argv settings are
//   defaults applied to every request. A line `run` (or the end of stdin, when
//   something was set since the last run) executes the request: one JSON
//   object is printed on its own line on stdout, and the request is reset to
//   the argv defaults. Blank lines and lines starting with '#' are ignored.
//
//   prog_type N          enum bpf_prog_type number (default 1, SOCKET_FILTER)
//   expected_attach_type N
//   prog_flags N         BPF_F_* load flags (e.g. 16 = BPF_F_SLEEPABLE)
//   license STR          default "GPL"
//   log_level N          0, 1, 2 (| 4 = BPF_LOG_STATS); default 1. With level 0
//                        a failed load is retried with level 1 to get the log.
//   log_size N           verifier log buffer bytes (default 16 MiB)
//   unpriv 0|1           load with CAP_BPF/CAP_SYS_ADMIN/CAP_PERFMON/CAP_NET_ADMIN
//                        removed from the effective set (maps are created the
//                        same way); raised again for the test run
//   unpriv_sysctl 0|1    if kernel.unprivileged_bpf_disabled is 2, set it to 0
//                        for the load and restore it afterwards
//   map TYPE KEY_SIZE VALUE_SIZE MAX_ENTRIES [FLAGS]   create map #index (in order)
//   fill INDEX KEYHEX VALUEHEX                        BPF_MAP_UPDATE_ELEM before the run
//                        (per-CPU maps: VALUEHEX is one CPU's value, copied to all)
//   insns HEX            the program, 8 bytes a slot, little-endian
//   data HEX             data_in of the test run
//   ctx HEX              ctx_in of the test run
//   data_out_size N      default: data size + 4096 (XDP may grow the packet), 0 without data
//   ctx_out_size N       default: ctx size (0 for syscall programs)
//   repeat N             default 1 (0 = do not test-run, load only)
//   test_flags N         BPF_F_TEST_* flags of the test run
//   dump 0|1             dump every map after the run (default 1)
//
// LD_IMM64 with src = 1 (BPF_PSEUDO_MAP_FD) or src = 2 (BPF_PSEUDO_MAP_VALUE)
// carries a map *index* in imm; it is replaced by that map's fd before the
// load. src = 5/6 (BPF_PSEUDO_MAP_IDX[_VALUE]) are passed as they are, with
// fd_array holding the map fds in index order.
//
// Output (one line per request):
//   {"loaded":bool,"stage":"...","errno":N,"error":"...","verifier_log":"...",
//    "verified_insns":N,"unpriv_sysctl":N,"retval":N,"duration_ns":N,
//    "data_out":"hex","ctx_out":"hex","maps":[{"entries":[{"key":"hex","value":"hex"}],
//    "error":"..."}]}
//   `stage` names the step that failed ("ok" when all went well): args,
//   caps, map_create, map_update, prog_load, test_run. retval is the kernel's
//   32-bit `test.retval`; duration_ns is its `test.duration` (mean ns a run).
//
// About 64-bit results: BPF_PROG_TEST_RUN reports `retval` as a __u32 for
// every program type (the attr field is 32 bits; syscall programs too). To
// observe a full 64-bit R0, the caller makes the program store it: see
// test/oracle/kernel-alu-diff.test.ts, which runs BPF_PROG_TYPE_SYSCALL
// programs (ctx is a plain user buffer, readable and writable, copied back as
// ctx_out) that spill the ctx pointer at entry and write R0 to ctx[0..8) before
// exiting.

#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_MAPS 64
#define MAX_FILLS (1 << 22)

struct map_req {
  uint32_t type, key_size, value_size, max_entries, flags;
};

struct fill_req {
  uint32_t map;
  uint8_t *key, *value;
  size_t key_len, value_len;
};

struct request {
  uint32_t prog_type, expected_attach_type, prog_flags, log_level, log_size;
  char license[128];
  int unpriv, unpriv_sysctl, dump;
  struct map_req maps[MAX_MAPS];
  int nmaps;
  struct fill_req *fills; // nfills used of cfills allocated
  int nfills, cfills;
  uint8_t *insns, *data, *ctx;
  size_t insns_len, data_len, ctx_len;
  long data_out_size, ctx_out_size;
  uint32_t repeat, test_flags;
  int dirty;
  char bad[256]; // first argument error, reported at run time
};

// ---------------------------------------------------------------- output

static void put_json_string(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\t': fputs("\\t", f); break;
    case '\r': fputs("\\r", f); break;
    default:
      if (c < 0x20 || c >= 0x7f) fprintf(f, "\\u%04x", c);
      else fputc(c, f);
    }
  }
  fputc('"', f);
}

static void put_hex(FILE *f, const uint8_t *p, size_t n) {
  static const char d[] = "0123456789abcdef";
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    fputc(d[p[i] >> 4], f);
    fputc(d[p[i] & 15], f);
  }
  fputc('"', f);
}

// ---------------------------------------------------------------- parsing

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decode hex (whitespace-free) into a fresh buffer. "-" or "" is empty.
static int parse_hex(const char *s, uint8_t **out, size_t *len) {
  size_t n = strlen(s);
  if (n == 1 && s[0] == '-') n = 0;
  if (n % 2) return -1;
  uint8_t *b = malloc(n / 2 + 1);
  if (!b) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
    if (h < 0 || l < 0) { free(b); return -1; }
    b[i] = (uint8_t)(h << 4 | l);
  }
  *out = b;
  *len = n / 2;
  return 0;
}

static int parse_u32(const char *s, uint32_t *v) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 0);
  if (errno || *end || x > 0xffffffffULL) return -1;
  *v = (uint32_t)x;
  return 0;
}

static void set_bad(struct request *r, const char *fmt, const char *arg) {
  if (!r->bad[0]) snprintf(r->bad, sizeof r->bad, fmt, arg ? arg : "");
}

static void request_init(struct request *r) {
  memset(r, 0, sizeof *r);
  r->prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  r->log_level = 1;
  r->log_size = 16u << 20;
  strcpy(r->license, "GPL");
  r->repeat = 1;
  r->dump = 1;
  r->data_out_size = -1;
  r->ctx_out_size = -1;
}

static void request_free(struct request *r) {
  free(r->insns);
  free(r->data);
  free(r->ctx);
  for (int i = 0; i < r->nfills; i++) {
    free(r->fills[i].key);
    free(r->fills[i].value);
  }
  free(r->fills);
}

// Deep copy (the argv defaults are copied into each request).
static void request_copy(struct request *d, const struct request *s) {
  *d = *s;
  d->insns = d->data = d->ctx = NULL;
  d->nfills = 0;
  d->cfills = s->nfills;
  d->fills = s->nfills ? calloc((size_t)s->nfills, sizeof *d->fills) : NULL;
  d->insns_len = d->data_len = d->ctx_len = 0;
  if (s->insns) { d->insns = malloc(s->insns_len + 1); memcpy(d->insns, s->insns, s->insns_len); d->insns_len = s->insns_len; }
  if (s->data) { d->data = malloc(s->data_len + 1); memcpy(d->data, s->data, s->data_len); d->data_len = s->data_len; }
  if (s->ctx) { d->ctx = malloc(s->ctx_len + 1); memcpy(d->ctx, s->ctx, s->ctx_len); d->ctx_len = s->ctx_len; }
  for (int i = 0; i < s->nfills; i++) {
    struct fill_req *f = &d->fills[d->nfills++];
    *f = s->fills[i];
    f->key = malloc(f->key_len + 1);
    memcpy(f->key, s->fills[i].key, f->key_len);
    f->value = malloc(f->value_len + 1);
    memcpy(f->value, s->fills[i].value, f->value_len);
  }
}

// Apply one `key args...` setting; `argv` holds up to 5 words.
static void apply(struct request *r, char **w, int nw) {
  const char *k = w[0];
  uint32_t v;
  r->dirty = 1;
  if (!strcmp(k, "map")) {
    struct map_req m = {0};
    if (nw < 5 || nw > 6 || parse_u32(w[1], &m.type) || parse_u32(w[2], &m.key_size) ||
        parse_u32(w[3], &m.value_size) || parse_u32(w[4], &m.max_entries) ||
        (nw == 6 && parse_u32(w[5], &m.flags))) {
      set_bad(r, "bad map line (want: map TYPE KEY_SIZE VALUE_SIZE MAX_ENTRIES [FLAGS])%s", NULL);
      return;
    }
    if (r->nmaps >= MAX_MAPS) { set_bad(r, "too many maps%s", NULL); return; }
    r->maps[r->nmaps++] = m;
    return;
  }
  if (!strcmp(k, "fill")) {
    struct fill_req f = {0};
    if (nw != 4 || parse_u32(w[1], &f.map) || parse_hex(w[2], &f.key, &f.key_len) ||
        parse_hex(w[3], &f.value, &f.value_len)) {
      set_bad(r, "bad fill line (want: fill INDEX KEYHEX VALUEHEX)%s", NULL);
      return;
    }
    if (r->nfills >= MAX_FILLS) { set_bad(r, "too many fill lines%s", NULL); free(f.key); free(f.value); return; }
    if (r->nfills == r->cfills) {
      int c = r->cfills ? 2 * r->cfills : 16;
      struct fill_req *n = realloc(r->fills, (size_t)c * sizeof *n);
      if (!n) { set_bad(r, "out of memory for fill lines%s", NULL); free(f.key); free(f.value); return; }
      r->fills = n;
      r->cfills = c;
    }
    r->fills[r->nfills++] = f;
    return;
  }
  if (!strcmp(k, "license")) {
    if (nw != 2 || strlen(w[1]) >= sizeof r->license) { set_bad(r, "bad license%s", NULL); return; }
    strcpy(r->license, w[1]);
    return;
  }
  if (!strcmp(k, "insns") || !strcmp(k, "data") || !strcmp(k, "ctx")) {
    uint8_t **p = k[0] == 'i' ? &r->insns : k[0] == 'd' ? &r->data : &r->ctx;
    size_t *n = k[0] == 'i' ? &r->insns_len : k[0] == 'd' ? &r->data_len : &r->ctx_len;
    free(*p);
    *p = NULL;
    *n = 0;
    if (nw != 2 || parse_hex(w[1], p, n)) set_bad(r, "bad hex for '%s'", k);
    return;
  }
  if (nw != 2 || parse_u32(w[1], &v)) { set_bad(r, "bad or missing number for '%s'", k); return; }
  if (!strcmp(k, "prog_type")) r->prog_type = v;
  else if (!strcmp(k, "expected_attach_type")) r->expected_attach_type = v;
  else if (!strcmp(k, "prog_flags")) r->prog_flags = v;
  else if (!strcmp(k, "log_level")) r->log_level = v;
  else if (!strcmp(k, "log_size")) r->log_size = v;
  else if (!strcmp(k, "unpriv")) r->unpriv = v != 0;
  else if (!strcmp(k, "unpriv_sysctl")) r->unpriv_sysctl = v != 0;
  else if (!strcmp(k, "dump")) r->dump = v != 0;
  else if (!strcmp(k, "data_out_size")) r->data_out_size = v;
  else if (!strcmp(k, "ctx_out_size")) r->ctx_out_size = v;
  else if (!strcmp(k, "repeat")) r->repeat = v;
  else if (!strcmp(k, "test_flags")) r->test_flags = v;
  else set_bad(r, "unknown setting '%s'", k);
}

// ---------------------------------------------------------------- kernel

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

static int ncpus_possible(void) {
  // /sys/devices/system/cpu/possible is "0-N" or "0"; per-CPU map values
  // are one 8-byte-aligned slot per possible CPU.
  FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
  int a = 0, b = 0, n = 1;
  if (f) {
    int k = fscanf(f, "%d-%d", &a, &b);
    if (k == 2) n = b + 1;
    else if (k == 1) n = a + 1;
    fclose(f);
  }
  return n;
}

static int is_percpu(uint32_t t) {
  return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
         t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static size_t user_value_size(const struct map_req *m) {
  if (!is_percpu(m->type)) return m->value_size;
  return (size_t)((m->value_size + 7) & ~7u) * ncpus_possible();
}

// Effective capability set manipulation (CAP_BPF = 39, CAP_PERFMON = 38).
static int caps_get(struct __user_cap_data_struct d[2]) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  return (int)syscall(SYS_capget, &h, d);
}
static int caps_set(struct __user_cap_data_struct d[2]) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  return (int)syscall(SYS_capset, &h, d);
}
static void cap_clear(struct __user_cap_data_struct d[2], int cap) {
  d[cap / 32].effective &= ~(1u << (cap % 32));
}

static int read_sysctl(const char *path) {
  FILE *f = fopen(path, "r");
  int v = -1;
  if (f) {
    if (fscanf(f, "%d", &v) != 1) v = -1;
    fclose(f);
  }
  return v;
}
static int write_sysctl(const char *path, int v) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int ok = fprintf(f, "%d\n", v) > 0;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}
#define UNPRIV_SYSCTL "/proc/sys/kernel/unprivileged_bpf_disabled"
// Oracles running in parallel serialise the window in which the sysctl is
// lowered, so that one does not restore it under another's load.
#define UNPRIV_LOCK "/tmp/tsbpf-bpf-oracle-unpriv.lock"

struct result {
  const char *stage;
  int err;
  char error[512];
  char *log;
  size_t log_len;
  int loaded;
  uint32_t verified_insns;
  int sysctl;
  int ran;
  uint32_t retval, duration;
  uint8_t *data_out, *ctx_out;
  uint32_t data_out_len, ctx_out_len;
};

static void fail(struct result *res, const char *stage, int err, const char *fmt, const char *a) {
  res->stage = stage;
  res->err = err;
  char msg[400];
  snprintf(msg, sizeof msg, fmt, a ? a : "");
  if (err) snprintf(res->error, sizeof res->error, "%s: %s", msg, strerror(err));
  else snprintf(res->error, sizeof res->error, "%s", msg);
}

static void dump_maps(FILE *out, const struct request *r, const int *fds) {
  fputs(",\"maps\":[", out);
  for (int i = 0; i < r->nmaps; i++) {
    const struct map_req *m = &r->maps[i];
    size_t vs = user_value_size(m);
    uint8_t *key = calloc(1, m->key_size + 1), *next = calloc(1, m->key_size + 1);
    uint8_t *val = calloc(1, vs + 1);
    if (i) fputc(',', out);
    fputs("{\"entries\":[", out);
    const char *err = NULL;
    int e = 0, first = 1;
    union bpf_attr a;
    if (fds[i] < 0 || !r->dump) {
      err = fds[i] < 0 ? "map was not created" : NULL;
    } else if (m->key_size == 0) {
      err = "map has no keys (queue, stack, ringbuf...): not dumped";
    } else {
      int have = 0;
      for (uint32_t guard = 0; guard < 100000000u; guard++) {
        memset(&a, 0, sizeof a);
        a.map_fd = (uint32_t)fds[i];
        a.key = have ? (uint64_t)(uintptr_t)key : 0;
        a.next_key = (uint64_t)(uintptr_t)next;
        if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a)) {
          if (errno != ENOENT) { e = errno; err = "BPF_MAP_GET_NEXT_KEY"; }
          break;
        }
        memcpy(key, next, m->key_size);
        have = 1;
        memset(&a, 0, sizeof a);
        a.map_fd = (uint32_t)fds[i];
        a.key = (uint64_t)(uintptr_t)key;
        a.value = (uint64_t)(uintptr_t)val;
        if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a)) {
          if (errno == ENOENT) continue; // deleted meanwhile
          e = errno;
          err = "BPF_MAP_LOOKUP_ELEM";
          break;
        }
        if (!first) fputc(',', out);
        first = 0;
        fputs("{\"key\":", out);
        put_hex(out, key, m->key_size);
        fputs(",\"value\":", out);
        put_hex(out, val, vs);
        fputc('}', out);
      }
    }
    fputc(']', out);
    if (err) {
      char msg[300];
      if (e) snprintf(msg, sizeof msg, "%s: %s", err, strerror(e));
      else snprintf(msg, sizeof msg, "%s", err);
      fputs(",\"error\":", out);
      put_json_string(out, msg, strlen(msg));
    }
    fputc('}', out);
    free(key);
    free(next);
    free(val);
  }
  fputc(']', out);
}

static void run_request(const struct request *r, FILE *out) {
  struct result res = {0};
  int fds[MAX_MAPS];
  int prog_fd = -1;
  uint8_t *insns = NULL;
  struct __user_cap_data_struct saved[2];
  int dropped = 0, sysctl_changed = 0, lock_fd = -1;
  res.stage = "ok";
  res.sysctl = read_sysctl(UNPRIV_SYSCTL);
  for (int i = 0; i < MAX_MAPS; i++) fds[i] = -1;

  if (r->bad[0]) { fail(&res, "args", EINVAL, "%s", r->bad); goto done; }
  if (!r->insns || r->insns_len == 0 || r->insns_len % 8) {
    fail(&res, "args", EINVAL, "%s", r->insns ? "insns is not a multiple of 8 bytes" : "no insns given");
    goto done;
  }
  if (r->unpriv) {
    if (r->unpriv_sysctl) {
      lock_fd = open(UNPRIV_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (lock_fd >= 0) flock(lock_fd, LOCK_EX);
      res.sysctl = read_sysctl(UNPRIV_SYSCTL);
    }
    if (r->unpriv_sysctl && res.sysctl == 2) {
      if (write_sysctl(UNPRIV_SYSCTL, 0) == 0) sysctl_changed = 1;
      else { fail(&res, "caps", errno, "cannot set %s to 0", UNPRIV_SYSCTL); goto done; }
    }
    struct __user_cap_data_struct d[2];
    if (caps_get(saved) || caps_get(d)) { fail(&res, "caps", errno, "capget%s", NULL); goto done; }
    cap_clear(d, CAP_SYS_ADMIN);
    cap_clear(d, CAP_NET_ADMIN);
    cap_clear(d, 38); // CAP_PERFMON
    cap_clear(d, 39); // CAP_BPF
    if (caps_set(d)) { fail(&res, "caps", errno, "capset%s", NULL); goto done; }
    dropped = 1;
  }

  for (int i = 0; i < r->nmaps; i++) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = r->maps[i].type;
    a.key_size = r->maps[i].key_size;
    a.value_size = r->maps[i].value_size;
    a.max_entries = r->maps[i].max_entries;
    a.map_flags = r->maps[i].flags;
    snprintf(a.map_name, sizeof a.map_name, "oracle_m%u", (unsigned)i % 1000u);
    long fd = sys_bpf(BPF_MAP_CREATE, &a);
    if (fd < 0) {
      char idx[16];
      snprintf(idx, sizeof idx, "%d", i);
      fail(&res, "map_create", errno, "BPF_MAP_CREATE map #%s", idx);
      goto done;
    }
    fds[i] = (int)fd;
  }
  for (int i = 0; i < r->nfills; i++) {
    const struct fill_req *f = &r->fills[i];
    char idx[16];
    snprintf(idx, sizeof idx, "%d", i);
    if (f->map >= (uint32_t)r->nmaps) { fail(&res, "map_update", EINVAL, "fill #%s names a map that does not exist", idx); goto done; }
    const struct map_req *m = &r->maps[f->map];
    size_t vs = user_value_size(m);
    if (f->key_len != m->key_size || f->value_len != m->value_size) {
      fail(&res, "map_update", EINVAL, "fill #%s: key/value size differs from the map's", idx);
      goto done;
    }
    uint8_t *v = calloc(1, vs + 1);
    if (is_percpu(m->type)) {
      for (size_t off = 0; off < vs; off += (m->value_size + 7) & ~7u) memcpy(v + off, f->value, f->value_len);
    } else memcpy(v, f->value, f->value_len);
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)fds[f->map];
    a.key = (uint64_t)(uintptr_t)f->key;
    a.value = (uint64_t)(uintptr_t)v;
    a.flags = BPF_ANY;
    long rc = sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
    int e = errno;
    free(v);
    if (rc) { fail(&res, "map_update", e, "BPF_MAP_UPDATE_ELEM fill #%s", idx); goto done; }
  }

  insns = malloc(r->insns_len);
  memcpy(insns, r->insns, r->insns_len);
  for (size_t i = 0; i + 1 < r->insns_len / 8; i++) {
    struct bpf_insn *x = (struct bpf_insn *)(insns + 8 * i);
    if (x->code != (BPF_LD | BPF_IMM | BPF_DW)) continue;
    if (x->src_reg == BPF_PSEUDO_MAP_FD || x->src_reg == BPF_PSEUDO_MAP_VALUE) {
      if (x->imm < 0 || x->imm >= r->nmaps) {
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        fail(&res, "args", EINVAL, "LD_IMM64 at slot %s names a map index that does not exist", idx);
        goto done;
      }
      x->imm = fds[x->imm];
    }
    i++; // skip the second slot
  }

  res.log = calloc(1, (size_t)r->log_size + 1);
  for (int attempt = 0; attempt < 2; attempt++) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    uint32_t level = attempt ? 1 : r->log_level;
    a.prog_type = r->prog_type;
    a.insn_cnt = (uint32_t)(r->insns_len / 8);
    a.insns = (uint64_t)(uintptr_t)insns;
    a.license = (uint64_t)(uintptr_t)r->license;
    a.log_level = level;
    a.log_size = level ? r->log_size : 0;
    a.log_buf = level ? (uint64_t)(uintptr_t)res.log : 0;
    a.prog_flags = r->prog_flags;
    a.expected_attach_type = r->expected_attach_type;
    a.fd_array = r->nmaps ? (uint64_t)(uintptr_t)fds : 0;
    strcpy(a.prog_name, "oracle");
    res.log[0] = 0;
    long fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0) { prog_fd = (int)fd; break; }
    int e = errno;
    if (attempt == 0 && r->log_level == 0 && e != ENOSPC) continue; // retry for the log
    fail(&res, "prog_load", e, "BPF_PROG_LOAD%s", e == ENOSPC ? " (verifier log truncated: raise log_size)" : "");
    break;
  }
  res.log_len = strnlen(res.log, r->log_size);

  if (dropped) {
    caps_set(saved);
    dropped = 0;
  }
  if (sysctl_changed) {
    write_sysctl(UNPRIV_SYSCTL, 2);
    sysctl_changed = 0;
  }
  if (lock_fd >= 0) {
    close(lock_fd);
    lock_fd = -1;
  }
  if (prog_fd < 0) goto done;
  res.loaded = 1;
  {
    struct bpf_prog_info info;
    union bpf_attr a;
    memset(&info, 0, sizeof info);
    memset(&a, 0, sizeof a);
    a.info.bpf_fd = (uint32_t)prog_fd;
    a.info.info_len = sizeof info;
    a.info.info = (uint64_t)(uintptr_t)&info;
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) == 0) res.verified_insns = info.verified_insns;
  }

  if (r->repeat > 0) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    // Syscall programs take no data and refuse ctx_out: their ctx is copied
    // back into ctx_in (reported here as ctx_out).
    int sys = r->prog_type == BPF_PROG_TYPE_SYSCALL;
    uint32_t dos = r->data_out_size >= 0 ? (uint32_t)r->data_out_size
                   : (r->data_len && !sys) ? (uint32_t)r->data_len + 4096 : 0;
    uint32_t cos = r->ctx_out_size >= 0 ? (uint32_t)r->ctx_out_size : sys ? 0 : (uint32_t)r->ctx_len;
    res.data_out = calloc(1, (size_t)dos + 1);
    res.ctx_out = calloc(1, (size_t)cos + 1);
    a.test.prog_fd = (uint32_t)prog_fd;
    a.test.data_in = r->data_len ? (uint64_t)(uintptr_t)r->data : 0;
    a.test.data_size_in = (uint32_t)r->data_len;
    a.test.data_out = dos ? (uint64_t)(uintptr_t)res.data_out : 0;
    a.test.data_size_out = dos;
    a.test.ctx_in = r->ctx_len ? (uint64_t)(uintptr_t)r->ctx : 0;
    a.test.ctx_size_in = (uint32_t)r->ctx_len;
    a.test.ctx_out = cos ? (uint64_t)(uintptr_t)res.ctx_out : 0;
    a.test.ctx_size_out = cos;
    a.test.repeat = sys ? 0 : r->repeat; // syscall programs run once and take repeat = 0
    a.test.flags = r->test_flags;
    if (sys_bpf(BPF_PROG_TEST_RUN, &a)) {
      fail(&res, "test_run", errno, "BPF_PROG_TEST_RUN%s", NULL);
    } else {
      res.ran = 1;
      res.retval = a.test.retval;
      res.duration = a.test.duration;
      res.data_out_len = dos ? a.test.data_size_out : 0;
      res.ctx_out_len = cos ? a.test.ctx_size_out : 0;
      // BPF_PROG_TYPE_SYSCALL copies the context back into ctx_in, not ctx_out.
      if (sys && r->ctx_len) {
        free(res.ctx_out);
        res.ctx_out = malloc(r->ctx_len);
        memcpy(res.ctx_out, r->ctx, r->ctx_len);
        res.ctx_out_len = (uint32_t)r->ctx_len;
      }
      if (res.data_out_len > dos) res.data_out_len = dos;
      if (res.ctx_out_len > cos && !sys) res.ctx_out_len = cos;
    }
  }

done:
  if (dropped) caps_set(saved);
  if (sysctl_changed) write_sysctl(UNPRIV_SYSCTL, 2);
  if (lock_fd >= 0) close(lock_fd);
  fprintf(out, "{\"loaded\":%s,\"stage\":", res.loaded ? "true" : "false");
  put_json_string(out, res.stage, strlen(res.stage));
  fprintf(out, ",\"errno\":%d,\"error\":", res.err);
  put_json_string(out, res.error, strlen(res.error));
  fputs(",\"verifier_log\":", out);
  put_json_string(out, res.log ? res.log : "", res.log_len);
  fprintf(out, ",\"verified_insns\":%u,\"unpriv_sysctl\":%d,\"ran\":%s", res.verified_insns, res.sysctl,
          res.ran ? "true" : "false");
  if (res.ran) {
    fprintf(out, ",\"retval\":%u,\"duration_ns\":%u,\"data_out\":", res.retval, res.duration);
    put_hex(out, res.data_out, res.data_out_len);
    fputs(",\"ctx_out\":", out);
    put_hex(out, res.ctx_out, res.ctx_out_len);
  }
  if (!r->bad[0]) dump_maps(out, r, fds);
  else fputs(",\"maps\":[]", out);
  fputs("}\n", out);
  fflush(out);
  if (prog_fd >= 0) close(prog_fd);
  for (int i = 0; i < MAX_MAPS; i++)
    if (fds[i] >= 0) close(fds[i]);
  free(insns);
  free(res.log);
  free(res.data_out);
  free(res.ctx_out);
}

// Split a line into at most 6 whitespace-separated words.
static int split(char *line, char **w) {
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
    if (n == 6) return 7;
    w[n++] = t;
  }
  return n;
}

static struct request defaults, cur;

int main(int argc, char **argv) {
  request_init(&defaults);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2)) { set_bad(&defaults, "unexpected argument '%s'", a); continue; }
    char *w[6];
    int nw = 0;
    w[nw++] = (char *)a + 2;
    for (char *p = w[0]; *p; p++) if (*p == '-') *p = '_';
    if (!strcmp(w[0], "help")) {
      puts("usage: bpf-oracle [--key value]... < requests  (see the header of native/bpf-oracle.c)");
      return 0;
    }
    int nargs = !strcmp(w[0], "map") ? 5 : !strcmp(w[0], "fill") ? 3 : 1;
    if (nargs == 1 && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))) {
      w[nw++] = "1"; // a flag alone means 1
    } else {
      for (int k = 0; k < nargs && i + 1 < argc && strncmp(argv[i + 1], "--", 2); k++) w[nw++] = argv[++i];
    }
    apply(&defaults, w, nw);
  }
  defaults.dirty = 0;

  request_copy(&cur, &defaults);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    char *w[7];
    int nw = split(line, w);
    if (nw == 0 || w[0][0] == '#') continue;
    if (!strcmp(w[0], "run") && nw == 1) {
      run_request(&cur, stdout);
      request_free(&cur);
      request_copy(&cur, &defaults);
      continue;
    }
    if (nw > 6) { set_bad(&cur, "too many words on a '%s' line", w[0]); cur.dirty = 1; continue; }
    apply(&cur, w, nw);
  }
  if (cur.dirty || (argc > 1 && defaults.insns)) run_request(&cur, stdout);
  request_free(&cur);
  request_free(&defaults);
  free(line);
  return 0;
}

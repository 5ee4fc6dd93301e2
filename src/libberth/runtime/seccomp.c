#include "seccomp.h"

#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/sha256.h"
#include "libberth/common/json-util.h"
#include "seccomp-bpf.h"

/* Kernel flag bits newer than some uapi headers we may build against. */
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL 2
#endif

#define WHERE "linux.seccomp"

/* Linux system calls take at most six arguments (index 0 to 5). */
#define SYSCALL_MAX_ARGS 6

struct seccomp_program {
    struct sock_fprog fprog; /* filter owned by the program */
    unsigned long flags;     /* SECCOMP_FILTER_FLAG_* passed to seccomp(2) */
    bool notify;             /* some rule uses SCMP_ACT_NOTIFY */
    char *listener_path;
    char *listener_metadata;
};

struct action_def {
    const char *name;
    uint32_t value;   /* SCMP_ACT_* without data */
    bool takes_errno; /* ERRNO and TRACE carry errnoRet in the low 16 bits */
    bool since_3_5;   /* present since seccomp filters exist: no kernel probe needed */
};

/* Sorted by name, as `features` prints them. SCMP_ACT_KILL is the thread
 * kill, as in libseccomp and runc. */
static const struct action_def actions[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false, true},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true, true},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false, true},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false, true},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false, false},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true, true},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false, true},
};

struct op_def {
    const char *name;
    enum scmp_compare op;
};

static const struct op_def operators[] = {
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", SCMP_CMP_NE},
};

struct arch_def {
    const char *name;
    uint32_t token; /* 0: this libseccomp does not know the architecture */
};

/* Architectures newer than this libseccomp's header: 0, skipped. */
#ifdef SCMP_ARCH_LOONGARCH64
#define ARCH_LOONGARCH64 SCMP_ARCH_LOONGARCH64
#else
#define ARCH_LOONGARCH64 0
#endif
#ifdef SCMP_ARCH_M68K
#define ARCH_M68K SCMP_ARCH_M68K
#else
#define ARCH_M68K 0
#endif
#ifdef SCMP_ARCH_SH
#define ARCH_SH SCMP_ARCH_SH
#else
#define ARCH_SH 0
#endif
#ifdef SCMP_ARCH_SHEB
#define ARCH_SHEB SCMP_ARCH_SHEB
#else
#define ARCH_SHEB 0
#endif

/* Every name the runtime spec lists, sorted. */
static const struct arch_def arches[] = {
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_LOONGARCH64", ARCH_LOONGARCH64},
    {"SCMP_ARCH_M68K", ARCH_M68K},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_SH", ARCH_SH},
    {"SCMP_ARCH_SHEB", ARCH_SHEB},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
};

struct flag_def {
    const char *name;
    unsigned long flag;
};

static const struct flag_def flag_defs[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

static long sys_seccomp(unsigned int op, unsigned long flags, void *args)
{
    return syscall(SYS_seccomp, op, flags, args);
}

static const struct action_def *action_lookup(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
        if (streq(actions[i].name, name)) {
            return &actions[i];
        }
    }
    return NULL;
}

/* KILL_PROCESS and LOG (4.14) and NOTIFY (5.0) are newer than seccomp
 * itself; ask the kernel rather than fail at load time in the child. */
static bool action_available(const struct action_def *def)
{
    if (def->since_3_5) {
        return true;
    }
    uint32_t action = def->value;
    return sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

/* A NULL program makes seccomp(2) validate the flags and then fail to copy
 * the program: EFAULT means the kernel knows the flags, EINVAL that it does
 * not. Nothing is installed either way (runc probes flags the same way). */
static bool flags_supported(unsigned long flags)
{
    if (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) {
        /* The kernel refuses it without a listener before looking further. */
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    return sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL) < 0 && errno == EFAULT;
}

/* Read obj.<akey> (an action name) and obj.<ekey> (its errnoRet) into the
 * SCMP_ACT_* value libseccomp takes. */
static int parse_action(json_t *obj, const char *where, const char *akey, const char *ekey,
                        uint32_t *ret, struct berth_error **err)
{
    const char *name = NULL;
    int r = jget_str(obj, where, akey, true, &name, err);
    if (r < 0) {
        return r;
    }
    const struct action_def *def = action_lookup(name);
    if (!def) {
        return berth_error_set(err, EINVAL, "%s.%s: unknown action '%s'", where, akey, name);
    }
    uint32_t value = def->value;
    if (jhas(obj, ekey)) {
        uint32_t e = 0;
        r = jget_u32(obj, where, ekey, true, &e, err);
        if (r < 0) {
            return r;
        }
        /* The spec: when the action does not take an errno, fail. */
        if (!def->takes_errno) {
            return berth_error_set(err, EINVAL,
                                   "%s.%s: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, "
                                   "not '%s'",
                                   where, ekey, name);
        }
        if (e > 0xffff) {
            return berth_error_set(err, EINVAL, "%s.%s: %" PRIu32 " out of range (at most 65535)",
                                   where, ekey, e);
        }
        value |= e;
    } else if (def->takes_errno) {
        value |= EPERM;
    }
    if (!action_available(def)) {
        return berth_error_set(err, EOPNOTSUPP, "%s.%s: '%s' is not supported by this kernel",
                               where, akey, name);
    }
    *ret = value;
    return 0;
}

static int parse_arches(scmp_filter_ctx ctx, json_t *profile, struct berth_error **err)
{
    json_t *list = NULL;
    int r = jget_arr(profile, WHERE, "architectures", false, &list, err);
    if (r < 0 || !list) {
        return r;
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!json_is_string(e)) {
            return berth_error_set(err, EINVAL, WHERE ".architectures[%zu]: expected a string", i);
        }
        const char *name = json_string_value(e);
        const struct arch_def *def = NULL;
        for (size_t k = 0; k < ARRAY_SIZE(arches); k++) {
            if (streq(arches[k].name, name)) {
                def = &arches[k];
                break;
            }
        }
        if (!def) {
            return berth_error_set(err, EINVAL,
                                   WHERE ".architectures[%zu]: unknown architecture '%s'", i, name);
        }
        /* A profile lists every architecture it might meet; one this
         * libseccomp cannot build filters for simply cannot occur here. */
        if (def->token == 0) {
            log_debug("seccomp architecture '%s' unknown to this libseccomp, skipped", name);
            continue;
        }
        r = seccomp_arch_add(ctx, def->token);
        if (r == -EEXIST) {
            continue; /* the native architecture, or listed twice */
        }
        if (r == -EINVAL || r == -EDOM) {
            log_debug("seccomp architecture '%s' not supported by this libseccomp, skipped", name);
            continue;
        }
        if (r < 0) {
            return berth_error_sys(err, -r, WHERE ".architectures[%zu]: add '%s'", i, name);
        }
    }
    return 0;
}

static int parse_flags(json_t *profile, unsigned long *ret, struct berth_error **err)
{
    json_t *list = NULL;
    int r = jget_arr(profile, WHERE, "flags", false, &list, err);
    if (r < 0 || !list) {
        return r;
    }
    unsigned long flags = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!json_is_string(e)) {
            return berth_error_set(err, EINVAL, WHERE ".flags[%zu]: expected a string", i);
        }
        const char *name = json_string_value(e);
        const struct flag_def *def = NULL;
        for (size_t k = 0; k < ARRAY_SIZE(flag_defs); k++) {
            if (streq(flag_defs[k].name, name)) {
                def = &flag_defs[k];
                break;
            }
        }
        if (!def) {
            return berth_error_set(err, EINVAL, WHERE ".flags[%zu]: unknown flag '%s'", i, name);
        }
        if (!flags_supported(def->flag)) {
            return berth_error_set(err, EOPNOTSUPP,
                                   WHERE ".flags[%zu]: '%s' is not supported by this kernel", i,
                                   name);
        }
        flags |= def->flag;
    }
    *ret = flags;
    return 0;
}

/* Parse one "args" array into conditions; *ret_split is set when two
 * conditions test the same argument, which libseccomp refuses in one rule. */
static int parse_args(json_t *call, const char *where, struct scmp_arg_cmp **ret, size_t *ret_n,
                      bool *ret_split, struct berth_error **err)
{
    json_t *list = NULL;
    int r = jget_arr(call, where, "args", false, &list, err);
    if (r < 0) {
        return r;
    }
    size_t n = list ? json_array_size(list) : 0;
    _cleanup_free_ struct scmp_arg_cmp *conds = n ? xcalloc(n, sizeof(*conds)) : NULL;
    unsigned count[SYSCALL_MAX_ARGS] = {0};
    bool split = false;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(list, i);
        char w[160];
        snprintf(w, sizeof(w), "%s.args[%zu]", where, i);
        if (!json_is_object(a)) {
            return berth_error_set(err, EINVAL, "%s: expected an object", w);
        }
        uint32_t index = 0;
        uint64_t value = 0, value_two = 0;
        const char *op = NULL;
        if ((r = jget_u32(a, w, "index", true, &index, err)) < 0 ||
            (r = jget_u64(a, w, "value", true, &value, err)) < 0 ||
            (r = jget_u64(a, w, "valueTwo", false, &value_two, err)) < 0 ||
            (r = jget_str(a, w, "op", true, &op, err)) < 0) {
            return r;
        }
        if (index >= SYSCALL_MAX_ARGS) {
            return berth_error_set(err, EINVAL,
                                   "%s.index: %" PRIu32 " out of range (syscalls take at most %d "
                                   "arguments, 0 to %d)",
                                   w, index, SYSCALL_MAX_ARGS, SYSCALL_MAX_ARGS - 1);
        }
        const struct op_def *def = NULL;
        for (size_t k = 0; k < ARRAY_SIZE(operators); k++) {
            if (streq(operators[k].name, op)) {
                def = &operators[k];
                break;
            }
        }
        if (!def) {
            return berth_error_set(err, EINVAL, "%s.op: unknown operator '%s'", w, op);
        }
        /* For SCMP_CMP_MASKED_EQ value is the mask and valueTwo the datum,
         * as runc passes them to libseccomp. */
        conds[i] = (struct scmp_arg_cmp){
            .arg = index, .op = def->op, .datum_a = value, .datum_b = value_two};
        if (++count[index] > 1) {
            split = true;
        }
    }
    *ret = TAKE_PTR(conds);
    *ret_n = n;
    *ret_split = split;
    return 0;
}

/* One syscall name of one syscalls[] entry, resolved. */
struct pending_rule {
    int nr;
    uint32_t action;
    const char *name;
    size_t entry; /* index in syscalls[], for messages */
    size_t seq;   /* position in the profile */
    const struct scmp_arg_cmp *conds;
    size_t n_conds;
    bool split;
};

struct rule_list {
    struct pending_rule *rules;
    size_t n, alloc;
    struct scmp_arg_cmp **conds; /* owned condition arrays, one per entry */
    size_t n_conds, alloc_conds;
};

static void rule_list_release(struct rule_list *l)
{
    for (size_t i = 0; i < l->n_conds; i++) {
        free(l->conds[i]);
    }
    free(l->conds);
    free(l->rules);
}

/* libseccomp keeps each architecture's syscalls in a linked list sorted by
 * number and walks it on every insertion; adding the highest numbers first
 * makes a Docker-sized profile's rules go in about a third faster. Rules
 * for one syscall keep the profile's order, and rules for different
 * syscalls do not interact, so the filter is the same. */
static int rule_cmp(const void *a, const void *b)
{
    const struct pending_rule *x = a, *y = b;
    /* Pseudo-syscalls (negative numbers on this arch, e.g. socketcall on
     * x86_64) first and in profile order: on 32-bit x86 the rules for
     * socket(2) become socketcall rules, which libseccomp accepts only after
     * the profile's own socketcall rules, in the order runc adds them. */
    bool xp = x->nr < 0, yp = y->nr < 0;
    if (xp != yp) {
        return xp ? -1 : 1;
    }
    if (!xp && x->nr != y->nr) {
        return x->nr > y->nr ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int add_rule(scmp_filter_ctx ctx, const struct pending_rule *rule, bool conflict_fatal,
                    struct berth_error **err)
{
    int r;
    if (!rule->split) {
        r = seccomp_rule_add_array(ctx, rule->action, rule->nr, (unsigned)rule->n_conds,
                                   rule->conds);
    } else {
        /* Two conditions on one argument: like runc, fall back to one rule
         * per condition, i.e. any condition matching triggers the action. */
        r = 0;
        for (size_t i = 0; i < rule->n_conds && r >= 0; i++) {
            r = seccomp_rule_add_array(ctx, rule->action, rule->nr, 1, &rule->conds[i]);
        }
    }
    if (r == -EEXIST && !conflict_fatal) {
        /* The rule holds on the native architecture (checked first), but
         * libseccomp cannot express it on another one: socket(2) with
         * argument conditions becomes an unconditional socketcall(2) on
         * 32-bit x86. The earlier rule stays in force there, as systemd
         * does; podman's default profile needs this. */
        log_debug("seccomp: rule %zu for '%s' not expressible on every architecture, kept "
                  "where it is",
                  rule->entry, rule->name);
        return 0;
    }
    if (r == -EEXIST) {
        return berth_error_set(err, EEXIST,
                               WHERE ".syscalls[%zu]: '%s' conflicts with an earlier rule",
                               rule->entry, rule->name);
    }
    if (r < 0) {
        return berth_error_sys(err, -r, WHERE ".syscalls[%zu]: add rule for '%s'", rule->entry,
                               rule->name);
    }
    return 0;
}

/* Validate every syscalls[] entry and collect its rules. */
static int parse_syscalls(json_t *profile, uint32_t default_action, struct rule_list *rules,
                          bool *ret_notify, struct berth_error **err)
{
    json_t *list = NULL;
    int r = jget_arr(profile, WHERE, "syscalls", false, &list, err);
    if (r < 0 || !list) {
        return r;
    }
    bool notify = false;
    size_t i;
    json_t *call;
    json_array_foreach(list, i, call)
    {
        char where[96];
        snprintf(where, sizeof(where), WHERE ".syscalls[%zu]", i);
        if (!json_is_object(call)) {
            return berth_error_set(err, EINVAL, "%s: expected an object", where);
        }
        json_t *names = NULL;
        uint32_t action = 0;
        if ((r = jget_arr(call, where, "names", true, &names, err)) < 0 ||
            (r = parse_action(call, where, "action", "errnoRet", &action, err)) < 0) {
            return r;
        }
        if (json_array_size(names) == 0) {
            return berth_error_set(err, EINVAL, "%s.names: expected at least one name", where);
        }
        struct scmp_arg_cmp *conds = NULL;
        size_t n_conds = 0;
        bool split = false;
        r = parse_args(call, where, &conds, &n_conds, &split, err);
        if (r < 0) {
            return r;
        }
        if (conds) {
            rules->conds =
                xgrow(rules->conds, sizeof(*rules->conds), rules->n_conds, &rules->alloc_conds);
            rules->conds[rules->n_conds++] = conds;
        }
        size_t k;
        json_t *e;
        json_array_foreach(names, k, e)
        {
            const char *name = json_string_value(e);
            if (!name || !*name) {
                return berth_error_set(err, EINVAL, "%s.names[%zu]: expected a syscall name", where,
                                       k);
            }
            /* After loading, the child hands the listener fd out with
             * write(2)/sendmsg(2): notifying on those would wait for an
             * agent that never gets the fd (runc refuses write likewise). */
            if (action == SCMP_ACT_NOTIFY && (streq(name, "write") || streq(name, "sendmsg"))) {
                return berth_error_set(err, EINVAL,
                                       "%s.names[%zu]: SCMP_ACT_NOTIFY cannot be used for the "
                                       "'%s' syscall",
                                       where, k, name);
            }
        }
        /* libseccomp refuses a rule whose action is the default one; it
         * would change nothing anyway. */
        if (action == default_action) {
            continue;
        }
        if (action == SCMP_ACT_NOTIFY) {
            notify = true;
        }
        json_array_foreach(names, k, e)
        {
            const char *name = json_string_value(e);
            /* Unknown to libseccomp: the syscall may be newer than this
             * libseccomp or not exist on this architecture. runc skips it;
             * so do we. */
            int nr = seccomp_syscall_resolve_name(name);
            if (nr == __NR_SCMP_ERROR) {
                log_debug("unknown seccomp syscall '%s' ignored", name);
                continue;
            }
            rules->rules = xgrow(rules->rules, sizeof(*rules->rules), rules->n, &rules->alloc);
            rules->rules[rules->n] = (struct pending_rule){
                .nr = nr,
                .action = action,
                .name = name,
                .entry = i,
                .seq = rules->n,
                .conds = conds,
                .n_conds = n_conds,
                .split = split,
            };
            rules->n++;
        }
    }
    *ret_notify = notify;
    return 0;
}

/* libseccomp (before 2.6) can only export to a descriptor: use a memfd and
 * read the program back, refusing one the kernel would refuse at load. */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *ret, struct berth_error **err)
{
    _cleanup_close_ int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "export seccomp filter: memfd_create");
    }
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0) {
        return berth_error_sys(err, -r, "export seccomp filter");
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return berth_error_sys(err, errno, "export seccomp filter: fstat");
    }
    size_t len = (size_t)st.st_size;
    if (len == 0 || len % sizeof(struct sock_filter) != 0) {
        return berth_error_set(err, EIO, "export seccomp filter: unexpected size %zu", len);
    }
    size_t n = len / sizeof(struct sock_filter);
    if (n > BPF_MAXINSNS) {
        return berth_error_set(err, E2BIG,
                               "seccomp filter has %zu instructions, more than the kernel "
                               "accepts (%d)",
                               n, BPF_MAXINSNS);
    }
    _cleanup_free_ struct sock_filter *insns = xmalloc(len);
    if (lseek(fd, 0, SEEK_SET) < 0) {
        return berth_error_sys(err, errno, "export seccomp filter: lseek");
    }
    ssize_t got = read_all(fd, insns, len);
    if (got < 0) {
        return berth_error_sys(err, (int)-got, "export seccomp filter: read");
    }
    if ((size_t)got != len) {
        return berth_error_set(err, EIO, "export seccomp filter: short read");
    }
    ret->len = (unsigned short)n;
    ret->filter = TAKE_PTR(insns);
    return 0;
}

static void seccomp_ctx_releasep(scmp_filter_ctx *ctx)
{
    if (*ctx) {
        seccomp_release(*ctx);
    }
}

/* libseccomp's program, then berth's rewrite of it (seccomp-bpf.h): the
 * same verdicts in a fraction of the instructions, which the kernel
 * converts, JITs and emulates at every container start. A program the
 * rewrite does not handle, or does not shrink, is kept as it is. */
static void shrink(struct sock_fprog *fprog)
{
    struct sock_filter *out = NULL;
    size_t n = 0;
    int r = seccomp_bpf_rewrite(fprog->filter, fprog->len, &out, &n);
    if (r < 0) {
        log_debug("seccomp: program of %u instructions kept as libseccomp made it: %s",
                  (unsigned)fprog->len, strerror(-r));
        return;
    }
    if (n >= fprog->len) {
        free(out);
        return;
    }
    log_debug("seccomp: program rewritten from %u to %zu instructions", (unsigned)fprog->len, n);
    free(fprog->filter);
    fprog->filter = out;
    fprog->len = (unsigned short)n;
}

static int compile(json_t *profile, bool rewrite, struct seccomp_program **ret,
                   struct berth_error **err)
{
    if (!json_is_object(profile)) {
        return berth_error_set(err, EINVAL, WHERE ": expected an object");
    }
    uint32_t default_action = 0;
    int r = parse_action(profile, WHERE, "defaultAction", "defaultErrnoRet", &default_action, err);
    if (r < 0) {
        return r;
    }
    /* The process would block on its first syscall, including the one that
     * hands the listener fd out (runc refuses it the same way). */
    if (default_action == SCMP_ACT_NOTIFY) {
        return berth_error_set(err, EINVAL,
                               WHERE ".defaultAction: SCMP_ACT_NOTIFY cannot be the default "
                                     "action");
    }
    const char *listener_path = NULL, *listener_metadata = NULL;
    if ((r = jget_str(profile, WHERE, "listenerPath", false, &listener_path, err)) < 0 ||
        (r = jget_str(profile, WHERE, "listenerMetadata", false, &listener_metadata, err)) < 0) {
        return r;
    }
    if (listener_path && !*listener_path) {
        listener_path = NULL;
    }
    if (listener_metadata && *listener_metadata && !listener_path) {
        return berth_error_set(err, EINVAL, WHERE ".listenerMetadata: set without listenerPath");
    }
    unsigned long flags = 0;
    r = parse_flags(profile, &flags, err);
    if (r < 0) {
        return r;
    }

    _cleanup_(seccomp_ctx_releasep) scmp_filter_ctx ctx = seccomp_init(default_action);
    if (!ctx) {
        return berth_error_set(err, EINVAL, WHERE ".defaultAction: refused by libseccomp");
    }
    /* A binary tree of syscall numbers (libseccomp's optimize level 2), not
     * the priority-ordered list runc and crun produce. Since Linux 5.11 the
     * kernel, when it attaches a filter, runs it once for every syscall
     * number to cache the always-allowed ones: with a Docker-sized list
     * that emulation made seccomp() itself cost ~0.7 ms of every container
     * start; a tree is walked in a few jumps per number. Compiling one
     * costs ~20% more, once per profile (the cache below). libseccomp's
     * NNP and TSYNC attributes are moot: only the exported BPF is used. */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

    r = parse_arches(ctx, profile, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(rule_list_release) struct rule_list rules = {0};
    bool notify = false;
    r = parse_syscalls(profile, default_action, &rules, &notify, err);
    if (r < 0) {
        return r;
    }
    if (notify) {
        if (!listener_path) {
            return berth_error_set(err, EINVAL,
                                   WHERE ".listenerPath: required when SCMP_ACT_NOTIFY is used");
        }
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        /* The kernel refuses TSYNC with a listener unless told to report a
         * thread it cannot sync as ESRCH (it cannot return both a tid and an
         * fd). */
        if (flags & SECCOMP_FILTER_FLAG_TSYNC) {
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
            if (!flags_supported(flags & ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
                return berth_error_set(err, EOPNOTSUPP,
                                       WHERE ".flags: SECCOMP_FILTER_FLAG_TSYNC with "
                                             "SCMP_ACT_NOTIFY is not supported by this kernel");
            }
        }
    } else if (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) {
        /* It only changes how notifications wait: without one it means
         * nothing, and the kernel would refuse it at load time. */
        log_debug("seccomp flag 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV' ignored without "
                  "SCMP_ACT_NOTIFY");
        flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }

    if (rules.n > 1) {
        qsort(rules.rules, rules.n, sizeof(*rules.rules), rule_cmp);
    }
    /* With other architectures in the filter, a conflict may be an artifact
     * of translating a rule for one of them: decide on a native-only filter
     * whether the profile itself contradicts itself. */
    json_t *arch_list = json_object_get(profile, "architectures");
    _cleanup_(seccomp_ctx_releasep) scmp_filter_ctx native =
        json_array_size(arch_list) > 0 ? seccomp_init(default_action) : NULL;
    for (size_t i = 0; i < rules.n; i++) {
        if (native && (r = add_rule(native, &rules.rules[i], true, err)) < 0) {
            return r;
        }
        r = add_rule(ctx, &rules.rules[i], !native, err);
        if (r < 0) {
            return r;
        }
    }

    struct sock_fprog fprog = {0};
    r = export_bpf(ctx, &fprog, err);
    if (r < 0) {
        return r;
    }
    if (rewrite) {
        shrink(&fprog);
    }
    struct seccomp_program *prog = xcalloc(1, sizeof(*prog));
    prog->fprog = fprog;
    prog->flags = flags;
    prog->notify = notify;
    prog->listener_path = listener_path ? xstrdup(listener_path) : NULL;
    prog->listener_metadata =
        listener_metadata && *listener_metadata ? xstrdup(listener_metadata) : NULL;
    *ret = prog;
    return 0;
}

int seccomp_program_compile(json_t *profile, struct seccomp_program **ret, struct berth_error **err)
{
    return compile(profile, true, ret, err);
}

int seccomp_program_compile_unrewritten(json_t *profile, struct seccomp_program **ret,
                                        struct berth_error **err)
{
    return compile(profile, false, ret, err);
}

/* ---- compiled programs cached by profile -------------------------------
 *
 * Compiling a Docker-sized profile costs libseccomp 1-9 ms (every rule for
 * every architecture), the largest single cost of `berth run`. The result
 * depends only on the profile, libseccomp's version and the machine, so it
 * is kept under the runtime's state root (root-only, on a tmpfs that a
 * reboot empties): <cache_dir>/<sha256 of all three>. A file that does not
 * have the exact layout is ignored and rewritten. Profiles with a
 * listenerPath are not cached (their program carries the path). */

#define CACHE_MAGIC 0x31435342u /* "BSC1" */

struct cache_header {
    uint32_t magic;
    uint32_t len; /* filter instructions */
    uint64_t flags;
    uint32_t notify;
    uint32_t pad;
};

static char *cache_key(json_t *profile)
{
    _cleanup_free_ char *text = json_dumps(profile, JSON_SORT_KEYS | JSON_COMPACT);
    if (!text) {
        return NULL;
    }
    const struct scmp_version *v = seccomp_version();
    struct utsname u;
    uname(&u);
    _cleanup_free_ char *salt =
        xasprintf("\ntree rewrite %d %u.%u.%u %s %s", SECCOMP_BPF_REWRITE_VERSION, v ? v->major : 0,
                  v ? v->minor : 0, v ? v->micro : 0, u.machine, u.release);
    /* basic/sha256.h, not OpenSSL: a container start must not pay for
     * OpenSSL's initialisation to name a cache file. */
    unsigned char md[32];
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, text, strlen(text));
    sha256_update(&c, salt, strlen(salt));
    sha256_final(&c, md);
    char hex[65];
    for (unsigned i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return xstrdup(hex);
}

static struct seccomp_program *cache_read(const char *path)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    if (read_file_at(AT_FDCWD, path, 1u << 20, &buf, &len, NULL) < 0 ||
        len < sizeof(struct cache_header)) {
        return NULL;
    }
    struct cache_header h;
    memcpy(&h, buf, sizeof(h));
    if (h.magic != CACHE_MAGIC || h.len == 0 || h.len > BPF_MAXINSNS ||
        len != sizeof(h) + (size_t)h.len * sizeof(struct sock_filter)) {
        return NULL;
    }
    struct seccomp_program *prog = xcalloc(1, sizeof(*prog));
    prog->fprog.len = (unsigned short)h.len;
    prog->fprog.filter = xmalloc((size_t)h.len * sizeof(struct sock_filter));
    memcpy(prog->fprog.filter, buf + sizeof(h), (size_t)h.len * sizeof(struct sock_filter));
    prog->flags = (unsigned long)h.flags;
    prog->notify = h.notify != 0;
    return prog;
}

static void cache_write(const char *dir, const char *path, const struct seccomp_program *prog)
{
    /* The parent is the runtime's state root, which create makes 0711
     * later anyway; the cache itself is root's alone. */
    _cleanup_free_ char *parent = xstrdup(dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        (void)mkdir_p(parent, 0711, NULL);
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        return;
    }
    struct cache_header h = {
        .magic = CACHE_MAGIC,
        .len = prog->fprog.len,
        .flags = prog->flags,
        .notify = prog->notify,
    };
    size_t n = (size_t)prog->fprog.len * sizeof(struct sock_filter);
    _cleanup_free_ char *buf = xmalloc(sizeof(h) + n);
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), prog->fprog.filter, n);
    /* Best effort: a cache that cannot be written only costs time. */
    (void)write_file_replace_at(AT_FDCWD, path, buf, sizeof(h) + n, 0600, NULL);
}

int seccomp_program_compile_cached(json_t *profile, const char *cache_dir,
                                   struct seccomp_program **ret, struct berth_error **err)
{
    const char *lp = json_string_value(json_object_get(profile, "listenerPath"));
    _cleanup_free_ char *key = cache_dir && !(lp && *lp) ? cache_key(profile) : NULL;
    if (!key) {
        return seccomp_program_compile(profile, ret, err);
    }
    _cleanup_free_ char *path = xasprintf("%s/%s", cache_dir, key);
    struct seccomp_program *prog = cache_read(path);
    if (prog) {
        log_debug("seccomp: compiled program from the cache");
        *ret = prog;
        return 0;
    }
    int r = seccomp_program_compile(profile, &prog, err);
    if (r < 0) {
        return r;
    }
    cache_write(cache_dir, path, prog);
    *ret = prog;
    return 0;
}

const struct sock_fprog *seccomp_program_fprog(const struct seccomp_program *prog,
                                               unsigned long *ret_flags)
{
    *ret_flags = prog->flags;
    return &prog->fprog;
}

int seccomp_program_load(const struct seccomp_program *prog, int *ret_notify_fd,
                         struct berth_error **err)
{
    /* The kernel takes a non-const program but only reads it. */
    long r = sys_seccomp(SECCOMP_SET_MODE_FILTER, prog->flags, (void *)&prog->fprog);
    if (r < 0) {
        int e = errno;
        if (e == EACCES) {
            /* Without no_new_privs a setuid binary could run under a filter
             * that makes it misbehave; the kernel allows that only to
             * CAP_SYS_ADMIN. */
            return berth_error_sys(err, e,
                                   "load seccomp filter: no_new_privs is not set and "
                                   "CAP_SYS_ADMIN is missing");
        }
        if (e == ESRCH) {
            return berth_error_sys(err, e, "load seccomp filter: cannot synchronize threads");
        }
        return berth_error_sys(err, e, "load seccomp filter (flags 0x%lx, %u instructions)",
                               prog->flags, (unsigned)prog->fprog.len);
    }
    if (prog->notify) {
        if (ret_notify_fd) {
            *ret_notify_fd = (int)r;
        } else {
            safe_close((int)r);
        }
        return 0;
    }
    if (r > 0) {
        /* TSYNC without ESRCH: r is a thread that could not be synced, and
         * the filter was not installed. */
        return berth_error_set(err, ESRCH, "load seccomp filter: thread %ld cannot be synchronized",
                               r);
    }
    if (ret_notify_fd) {
        *ret_notify_fd = -1;
    }
    return 0;
}

const char *seccomp_program_listener_path(const struct seccomp_program *prog)
{
    return prog ? prog->listener_path : NULL;
}

const char *seccomp_program_listener_metadata(const struct seccomp_program *prog)
{
    return prog ? prog->listener_metadata : NULL;
}

void seccomp_program_free(struct seccomp_program *prog)
{
    if (!prog) {
        return;
    }
    free(prog->fprog.filter);
    free(prog->listener_path);
    free(prog->listener_metadata);
    free(prog);
}

/* jansson returns NULL only when out of memory, which berth never survives. */
static json_t *jcheck(json_t *j)
{
    if (!j) {
        static const char msg[] = "berth: out of memory\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        abort();
    }
    return j;
}

static void jappend(json_t *arr, const char *s)
{
    json_array_append_new(arr, jcheck(json_string(s)));
}

json_t *seccomp_features_json(void)
{
    json_t *o = jcheck(json_object());
    json_t *acts = jcheck(json_array());
    json_t *ops = jcheck(json_array());
    json_t *archs = jcheck(json_array());
    json_t *known = jcheck(json_array());
    json_t *supported = jcheck(json_array());
    for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
        jappend(acts, actions[i].name);
    }
    for (size_t i = 0; i < ARRAY_SIZE(operators); i++) {
        jappend(ops, operators[i].name);
    }
    for (size_t i = 0; i < ARRAY_SIZE(arches); i++) {
        if (arches[i].token != 0) {
            jappend(archs, arches[i].name);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(flag_defs); i++) {
        jappend(known, flag_defs[i].name);
        if (flags_supported(flag_defs[i].flag)) {
            jappend(supported, flag_defs[i].name);
        }
    }
    json_object_set_new(o, "enabled", json_true());
    json_object_set_new(o, "actions", acts);
    json_object_set_new(o, "operators", ops);
    json_object_set_new(o, "archs", archs);
    json_object_set_new(o, "knownFlags", known);
    json_object_set_new(o, "supportedFlags", supported);
    return o;
}

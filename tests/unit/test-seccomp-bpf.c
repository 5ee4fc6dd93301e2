/* test-seccomp-bpf.c - the rewritten seccomp program gives libseccomp's
 * verdicts.
 *
 * Each profile is compiled twice (seccomp_program_compile_unrewritten: the
 * program libseccomp exported; seccomp_program_compile: berth's rewrite of
 * it), and both run in the small cBPF interpreter below, which is
 * independent of the rewrite's own analysis, on struct seccomp_data inputs:
 * every architecture of the profile and foreign ones, every syscall number
 * 0..1023 and __X32_SYSCALL_BIT + 0..1023 plus edge numbers, and, for every
 * (arch, nr) whose verdict reads arguments, argument vectors at and around
 * every constant the program compares with, high halves set and clear.
 * A single verdict difference fails the test with the input that shows it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit-json.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "basic/alloc.h"
#include "libberth/container/oci-spec.h"
#include "libberth/image/manifest.h"
#include "libberth/runtime/seccomp-bpf.h"
#include "libberth/runtime/seccomp.h"

#define X32_BIT 0x40000000u

/* ---- a plain cBPF interpreter over struct seccomp_data ------------------ */

struct run {
    uint32_t verdict;
    bool read_args; /* loaded something past arch (ip or arguments) */
};

static struct run interpret(const struct sock_fprog *prog, const struct seccomp_data *d)
{
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
    const unsigned char *data = (const unsigned char *)d;
    struct run out = {0};
    for (size_t pc = 0; pc < prog->len; pc++) {
        const struct sock_filter *f = &prog->filter[pc];
        uint32_t src = BPF_SRC(f->code) == BPF_X ? x : f->k;
        switch (BPF_CLASS(f->code)) {
        case BPF_LD:
            if (f->code == (BPF_LD | BPF_W | BPF_ABS)) {
                assert_true(f->k % 4 == 0 && f->k < sizeof(*d));
                memcpy(&a, data + f->k, 4);
                out.read_args |= f->k >= offsetof(struct seccomp_data, instruction_pointer);
            } else if (f->code == (BPF_LD | BPF_W | BPF_LEN)) {
                a = sizeof(*d);
            } else if (f->code == (BPF_LD | BPF_IMM)) {
                a = f->k;
            } else if (f->code == (BPF_LD | BPF_MEM)) {
                a = mem[f->k % BPF_MEMWORDS];
            } else {
                fail_msg("unexpected load 0x%x at %zu", f->code, pc);
            }
            break;
        case BPF_LDX:
            if (f->code == (BPF_LDX | BPF_IMM)) {
                x = f->k;
            } else if (f->code == (BPF_LDX | BPF_MEM)) {
                x = mem[f->k % BPF_MEMWORDS];
            } else if (f->code == (BPF_LDX | BPF_W | BPF_LEN)) {
                x = sizeof(*d);
            } else {
                fail_msg("unexpected ldx 0x%x at %zu", f->code, pc);
            }
            break;
        case BPF_ST:
            mem[f->k % BPF_MEMWORDS] = a;
            break;
        case BPF_STX:
            mem[f->k % BPF_MEMWORDS] = x;
            break;
        case BPF_ALU:
            switch (BPF_OP(f->code)) {
            case BPF_ADD:
                a += src;
                break;
            case BPF_SUB:
                a -= src;
                break;
            case BPF_MUL:
                a *= src;
                break;
            case BPF_DIV:
                a = src ? a / src : 0;
                break;
            case BPF_MOD:
                a = src ? a % src : 0;
                break;
            case BPF_AND:
                a &= src;
                break;
            case BPF_OR:
                a |= src;
                break;
            case BPF_XOR:
                a ^= src;
                break;
            case BPF_LSH:
                a = src < 32 ? a << src : 0;
                break;
            case BPF_RSH:
                a = src < 32 ? a >> src : 0;
                break;
            case BPF_NEG:
                a = -a;
                break;
            default:
                fail_msg("unexpected alu 0x%x at %zu", f->code, pc);
            }
            break;
        case BPF_JMP: {
            size_t to;
            if (BPF_OP(f->code) == BPF_JA) {
                to = pc + f->k;
            } else {
                bool c = false;
                switch (BPF_OP(f->code)) {
                case BPF_JEQ:
                    c = a == src;
                    break;
                case BPF_JGT:
                    c = a > src;
                    break;
                case BPF_JGE:
                    c = a >= src;
                    break;
                case BPF_JSET:
                    c = (a & src) != 0;
                    break;
                default:
                    fail_msg("unexpected jump 0x%x at %zu", f->code, pc);
                }
                to = pc + (c ? f->jt : f->jf);
            }
            assert_true(to + 1 < prog->len);
            pc = to;
            break;
        }
        case BPF_RET:
            out.verdict = BPF_RVAL(f->code) == BPF_A ? a : f->k;
            return out;
        case BPF_MISC:
            if (BPF_MISCOP(f->code) == BPF_TAX) {
                x = a;
            } else {
                a = x;
            }
            break;
        }
    }
    fail_msg("program ran off its end");
    return out; /* not reached: fail_msg ends the test */
}

/* ---- comparing the two programs ----------------------------------------- */

struct pair {
    struct seccomp_program *orig, *compiled;
    const struct sock_fprog *po; /* libseccomp's */
    const struct sock_fprog *pc; /* seccomp_program_compile's: rewritten if smaller */
    struct sock_fprog rw;        /* the rewrite, whatever its size */
    const struct sock_fprog *pr; /* &rw */
    uint32_t consts[1024];       /* 32-bit halves worth trying */
    size_t n_consts;
    uint64_t values[1024]; /* whole 64-bit arguments worth trying */
    size_t n_values;
    size_t inputs; /* how many inputs were compared */
};

static void add_const(struct pair *p, uint32_t c)
{
    for (size_t i = 0; i < p->n_consts; i++) {
        if (p->consts[i] == c) {
            return;
        }
    }
    assert_true(p->n_consts < ARRAY_SIZE(p->consts));
    p->consts[p->n_consts++] = c;
}

static void add_value(struct pair *p, uint64_t v)
{
    for (size_t i = 0; i < p->n_values; i++) {
        if (p->values[i] == v) {
            return;
        }
    }
    assert_true(p->n_values < ARRAY_SIZE(p->values));
    p->values[p->n_values++] = v;
    for (int d = -1; d <= 1; d++) {
        add_const(p, (uint32_t)v + (uint32_t)d);
        add_const(p, (uint32_t)(v >> 32) + (uint32_t)d);
    }
    add_const(p, ~(uint32_t)v);
    add_const(p, ~(uint32_t)(v >> 32));
}

static void pair_compile(struct pair *p, json_t *profile)
{
    struct berth_error *err = NULL;
    unsigned long fo = 0, fr = 0;
    if (seccomp_program_compile_unrewritten(profile, &p->orig, &err) < 0 ||
        seccomp_program_compile(profile, &p->compiled, &err) < 0) {
        fail_msg("compile: %s", err ? err->msg : "?");
    }
    p->po = seccomp_program_fprog(p->orig, &fo);
    p->pc = seccomp_program_fprog(p->compiled, &fr);
    assert_int_equal(fo, fr);
    assert_true(p->pc->len <= p->po->len);
    /* Every profile here is one the rewrite must handle. */
    struct sock_filter *f = NULL;
    size_t n = 0;
    int r = seccomp_bpf_rewrite(p->po->filter, p->po->len, &f, &n);
    if (r < 0) {
        fail_msg("rewrite refused a libseccomp program: %s", strerror(-r));
    }
    p->rw = (struct sock_fprog){.len = (unsigned short)n, .filter = f};
    p->pr = &p->rw;
    /* Every constant of the rules and the values around it: where the
     * verdicts of argument comparisons can change. For MASKED_EQ (value
     * the mask, valueTwo the datum) also the datum with bits outside the
     * mask set, and with one bit inside it flipped. */
    add_value(p, 0);
    add_value(p, 1);
    add_value(p, UINT64_MAX);
    add_value(p, UINT32_MAX);
    add_value(p, (uint64_t)UINT32_MAX + 1);
    json_t *calls = json_object_get(profile, "syscalls");
    size_t i, k;
    json_t *call, *arg;
    json_array_foreach(calls, i, call)
    {
        json_array_foreach(json_object_get(call, "args"), k, arg)
        {
            uint64_t v = (uint64_t)json_integer_value(json_object_get(arg, "value"));
            uint64_t v2 = (uint64_t)json_integer_value(json_object_get(arg, "valueTwo"));
            add_value(p, v - 1);
            add_value(p, v);
            add_value(p, v + 1);
            add_value(p, ~v);
            add_value(p, v2 - 1);
            add_value(p, v2);
            add_value(p, v2 + 1);
            add_value(p, v2 | ~v);
            add_value(p, v2 ^ (v & -v));
            add_value(p, (v2 & v) ^ (v & ~(v - 1)));
        }
    }
}

static void pair_release(struct pair *p)
{
    seccomp_program_free(p->orig);
    seccomp_program_free(p->compiled);
    free(p->rw.filter);
}

static void check_one(struct pair *p, const struct seccomp_data *d)
{
    struct run o = interpret(p->po, d), r = interpret(p->pr, d), c = interpret(p->pc, d);
    p->inputs++;
    if (o.verdict != r.verdict || o.verdict != c.verdict) {
        fail_msg("verdicts differ: arch 0x%x nr %d args %llx %llx %llx %llx %llx %llx: "
                 "libseccomp 0x%x, rewritten 0x%x, compiled 0x%x",
                 d->arch, d->nr, (unsigned long long)d->args[0], (unsigned long long)d->args[1],
                 (unsigned long long)d->args[2], (unsigned long long)d->args[3],
                 (unsigned long long)d->args[4], (unsigned long long)d->args[5], o.verdict,
                 r.verdict, c.verdict);
    }
}

/* In each argument slot: every whole value, then every 32-bit constant
 * with the other half zero, one, all ones or the same; the other
 * arguments zero or all ones. */
static void check_args(struct pair *p, struct seccomp_data d)
{
    static const uint32_t halves[] = {0, 1, UINT32_MAX};
    for (unsigned slot = 0; slot < 6; slot++) {
        for (int rest = 0; rest < 2; rest++) {
            struct seccomp_data e = d;
            for (unsigned s = 0; s < 6; s++) {
                e.args[s] = rest ? UINT64_MAX : 0;
            }
            for (size_t i = 0; i < p->n_values; i++) {
                e.args[slot] = p->values[i];
                check_one(p, &e);
            }
            for (size_t c = 0; c < p->n_consts; c++) {
                uint32_t v = p->consts[c];
                for (size_t h = 0; h < ARRAY_SIZE(halves) + 1; h++) {
                    uint32_t other = h < ARRAY_SIZE(halves) ? halves[h] : v;
                    e.args[slot] = (uint64_t)other << 32 | v;
                    check_one(p, &e);
                    e.args[slot] = (uint64_t)v << 32 | other;
                    check_one(p, &e);
                }
            }
        }
    }
    /* Rules with conditions on two arguments: every pair of values in
     * every pair of slots (small profiles only: quadratic). */
    if (p->n_values > 80) {
        return;
    }
    for (unsigned s1 = 0; s1 < 6; s1++) {
        for (unsigned s2 = s1 + 1; s2 < 6; s2++) {
            for (size_t i = 0; i < p->n_values; i++) {
                for (size_t j = 0; j < p->n_values; j++) {
                    struct seccomp_data e = d;
                    e.args[s1] = p->values[i];
                    e.args[s2] = p->values[j];
                    check_one(p, &e);
                }
            }
        }
    }
}

static const uint32_t test_arches[] = {
    AUDIT_ARCH_X86_64,
    AUDIT_ARCH_I386,
    AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_ARM,
    AUDIT_ARCH_S390X,
    AUDIT_ARCH_PPC64LE,
    0,
    UINT32_MAX,
    AUDIT_ARCH_X86_64 + 1,
};

static void check_equivalent(json_t *profile)
{
    struct pair p = {0};
    pair_compile(&p, profile);
    uint32_t nrs[2048 + 16];
    size_t n_nrs = 0;
    for (uint32_t i = 0; i < 1024; i++) {
        nrs[n_nrs++] = i;
        nrs[n_nrs++] = X32_BIT + i;
    }
    static const uint32_t edges[] = {X32_BIT - 1, 0x7fffffff, 0x80000000,     0xbfffffff,
                                     0xc0000000,  UINT32_MAX, UINT32_MAX - 1, 4096,
                                     65535,       65536};
    for (size_t i = 0; i < ARRAY_SIZE(edges); i++) {
        nrs[n_nrs++] = edges[i];
    }
    size_t with_args = 0;
    for (size_t a = 0; a < ARRAY_SIZE(test_arches); a++) {
        for (size_t i = 0; i < n_nrs; i++) {
            struct seccomp_data d = {.nr = (int)nrs[i], .arch = test_arches[a]};
            check_one(&p, &d);
            d.instruction_pointer = UINT64_MAX;
            for (unsigned s = 0; s < 6; s++) {
                d.args[s] = UINT64_MAX;
            }
            check_one(&p, &d);
            d = (struct seccomp_data){.nr = (int)nrs[i], .arch = test_arches[a]};
            if (interpret(p.po, &d).read_args || interpret(p.pr, &d).read_args) {
                with_args++;
                check_args(&p, d);
            }
        }
    }
    print_message("# %u -> %u instructions (%u used), %zu inputs, %zu (arch, nr) reading "
                  "arguments\n",
                  p.po->len, p.pr->len, p.pc->len, p.inputs, with_args);
    pair_release(&p);
}

/* ---- Docker's default profile, as the run path resolves it -------------- */

static json_t *default_profile(const char *body_text)
{
    static char *cmd[] = {"sh", NULL};
    static struct image_config img = {.cmd = cmd};
    struct oci_spec_context ctx = {
        .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        .rootfs = "/var/lib/berth/overlay/x/merged",
        .cgroups_path = "/berth/x",
        .cgroup2 = true,
    };
    json_t *body = J(body_text);
    json_t *doc = NULL;
    struct berth_error *err = NULL;
    if (container_oci_spec(body, &img, &ctx, &doc, &err) < 0) {
        fail_msg("container_oci_spec: %s", err ? err->msg : "?");
    }
    json_decref(body);
    json_t *s = json_incref(json_object_get(json_object_get(doc, "linux"), "seccomp"));
    json_decref(doc);
    return s;
}

static int nr_on(uint32_t arch, const char *name)
{
    uint32_t token = arch == AUDIT_ARCH_I386 ? SCMP_ARCH_X86 : SCMP_ARCH_X86_64;
    return seccomp_syscall_resolve_name_arch(token, name);
}

static void test_docker_default(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{}",
        "{'HostConfig':{'CapAdd':['SYS_ADMIN']}}",
        "{'HostConfig':{'CapAdd':['SYS_PTRACE']}}",
        "{'HostConfig':{'CapAdd':['ALL']}}",
        "{'HostConfig':{'CapDrop':['ALL']}}",
        "{'HostConfig':{'CapAdd':['SYS_ADMIN','SYS_BOOT','SYSLOG','SYS_MODULE','SYS_NICE',"
        "'SYS_PACCT','SYS_RAWIO','SYS_TIME','SYS_TTY_CONFIG','BPF','PERFMON']}}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
        json_t *profile = default_profile(bodies[i]);
        assert_non_null(profile);
        print_message("# body %s\n", bodies[i]);
        check_equivalent(profile);
        json_decref(profile);
    }
    /* --privileged: no filter at all, nothing to rewrite. */
    json_t *priv = default_profile("{'HostConfig':{'Privileged':true}}");
    assert_null(priv);
}

/* What a user notices, on the rewritten program: the default profile
 * still denies what Docker's denies, allows what it allows, and is
 * several times smaller than libseccomp's. */
static void test_docker_default_verdicts(void **state)
{
    (void)state;
    json_t *profile = default_profile("{}");
    struct pair p = {0};
    pair_compile(&p, profile);
    assert_true(p.pr->len * 3 < p.po->len);
    assert_int_equal(p.pc->len, p.pr->len);
    static const struct {
        const char *name;
        uint32_t verdict;
    } want[] = {
        {"read", SECCOMP_RET_ALLOW},
        {"getpid", SECCOMP_RET_ALLOW},
        {"execve", SECCOMP_RET_ALLOW},
        {"add_key", SECCOMP_RET_ERRNO | EPERM},
        {"keyctl", SECCOMP_RET_ERRNO | EPERM},
        {"mount", SECCOMP_RET_ERRNO | EPERM},
        {"unshare", SECCOMP_RET_ERRNO | EPERM},
        {"kexec_load", SECCOMP_RET_ERRNO | EPERM},
        {"bpf", SECCOMP_RET_ERRNO | EPERM},
        {"clone3", SECCOMP_RET_ERRNO | ENOSYS},
    };
    static const uint32_t arches[] = {AUDIT_ARCH_X86_64, AUDIT_ARCH_I386};
    for (size_t a = 0; a < ARRAY_SIZE(arches); a++) {
        for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
            int nr = nr_on(arches[a], want[i].name);
            assert_true(nr >= 0);
            struct seccomp_data d = {.nr = nr, .arch = arches[a]};
            uint32_t got = interpret(p.pc, &d).verdict;
            if (got != want[i].verdict) {
                fail_msg("%s on arch 0x%x: 0x%x, want 0x%x", want[i].name, arches[a], got,
                         want[i].verdict);
            }
        }
    }
    /* x32 numbers on x86_64 and a foreign architecture. */
    struct seccomp_data d = {.nr = (int)(X32_BIT + 39) /* getpid */, .arch = AUDIT_ARCH_X86_64};
    assert_int_equal(interpret(p.pc, &d).verdict, SECCOMP_RET_ALLOW);
    d.arch = AUDIT_ARCH_AARCH64;
    assert_int_equal(interpret(p.pc, &d).verdict, interpret(p.po, &d).verdict);
    assert_int_not_equal(interpret(p.pc, &d).verdict, SECCOMP_RET_ALLOW);
    /* personality(2): only the listed personas. */
    d = (struct seccomp_data){.nr = nr_on(AUDIT_ARCH_X86_64, "personality"),
                              .arch = AUDIT_ARCH_X86_64};
    d.args[0] = 8;
    assert_int_equal(interpret(p.pc, &d).verdict, SECCOMP_RET_ALLOW);
    d.args[0] = 9;
    assert_int_equal(interpret(p.pc, &d).verdict, SECCOMP_RET_ERRNO | EPERM);
    pair_release(&p);
    json_decref(profile);
}

/* ---- hand-made profiles: every operator, action and arch set ------------ */

static void test_operators(void **state)
{
    (void)state;
    static const char *const ops[] = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
                                      "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"};
    static const char *const values[] = {
        "0", "5", "4294967295", "4294967296", "81985529216486895", "9223372036854775807"};
    for (size_t o = 0; o < ARRAY_SIZE(ops); o++) {
        for (size_t v = 0; v < ARRAY_SIZE(values); v++) {
            char text[1024];
            snprintf(text, sizeof(text),
                     "{'defaultAction':'SCMP_ACT_ALLOW','architectures':['SCMP_ARCH_X86_64',"
                     "'SCMP_ARCH_X86','SCMP_ARCH_X32'],'syscalls':[{'names':['read','pread64',"
                     "'setns'],'action':'SCMP_ACT_ERRNO','errnoRet':13,'args':[{'index':%zu,"
                     "'value':%s,'op':'%s'}]},{'names':['write'],'action':'SCMP_ACT_ERRNO',"
                     "'args':[{'index':0,'value':1,'op':'%s'},{'index':2,'value':%s,'op':'%s'}]}]}",
                     v % 6, values[v], ops[o], ops[o], values[v], ops[o]);
            json_t *j = J(text);
            check_equivalent(j);
            json_decref(j);
        }
    }
}

static void test_masked_eq_and_split(void **state)
{
    (void)state;
    json_t *j = J("{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':38,"
                  "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86'],'syscalls':["
                  "{'names':['clone','unshare'],'action':'SCMP_ACT_ALLOW','args':[{'index':0,"
                  "'value':2114060288,'valueTwo':0,'op':'SCMP_CMP_MASKED_EQ'}]},"
                  "{'names':['mmap','mprotect'],'action':'SCMP_ACT_ALLOW','args':[{'index':2,"
                  "'value':9223372032559808512,'valueTwo':4294967296,'op':'SCMP_CMP_MASKED_EQ'}]},"
                  "{'names':['socket','socketpair','connect'],'action':'SCMP_ACT_ALLOW','args':["
                  "{'index':0,'value':40,'op':'SCMP_CMP_NE'}]},"
                  "{'names':['ioctl'],'action':'SCMP_ACT_ALLOW','args':[{'index':1,'value':21505,"
                  "'op':'SCMP_CMP_EQ'},{'index':1,'value':21506,'op':'SCMP_CMP_EQ'}]},"
                  "{'names':['getpid','getppid','read','write','exit_group','futex'],"
                  "'action':'SCMP_ACT_ALLOW'}]}");
    check_equivalent(j);
    json_decref(j);
}

static void test_actions(void **state)
{
    (void)state;
    static const char *const defaults[] = {
        "'defaultAction':'SCMP_ACT_ALLOW'",
        "'defaultAction':'SCMP_ACT_ERRNO'",
        "'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':1234",
        "'defaultAction':'SCMP_ACT_KILL'",
        "'defaultAction':'SCMP_ACT_KILL_PROCESS'",
        "'defaultAction':'SCMP_ACT_TRAP'",
        "'defaultAction':'SCMP_ACT_LOG'",
    };
    for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
        char text[2048];
        snprintf(
            text, sizeof(text),
            "{%s,'syscalls':["
            "{'names':['getpid','gettid','getuid','getgid','geteuid'],'action':'SCMP_ACT_LOG'},"
            "{'names':['kill','tkill'],'action':'SCMP_ACT_TRAP'},"
            "{'names':['ptrace'],'action':'SCMP_ACT_TRACE','errnoRet':7},"
            "{'names':['reboot'],'action':'SCMP_ACT_KILL_PROCESS'},"
            "{'names':['swapon'],'action':'SCMP_ACT_KILL_THREAD'},"
            "{'names':['open','openat'],'action':'SCMP_ACT_ERRNO','errnoRet':2,'args':["
            "{'index':2,'value':64,'valueTwo':64,'op':'SCMP_CMP_MASKED_EQ'}]},"
            "{'names':['read','write','close','exit','exit_group','brk','mmap'],"
            "'action':'SCMP_ACT_ALLOW'}]}",
            defaults[i]);
        json_t *j = J(text);
        check_equivalent(j);
        json_decref(j);
    }
}

static void test_arch_sets(void **state)
{
    (void)state;
    /* x86_64 without x32 (libseccomp refuses the x32 range there), x32
     * alone, 32-bit x86 alone (socketcall multiplexing), foreign arches
     * the filter carries but this host never meets, and no list at all. */
    static const char *const sets[] = {
        "'architectures':['SCMP_ARCH_X86_64']",
        "'architectures':['SCMP_ARCH_X32']",
        "'architectures':['SCMP_ARCH_X86']",
        "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_AARCH64','SCMP_ARCH_ARM']",
        "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86','SCMP_ARCH_X32',"
        "'SCMP_ARCH_S390X','SCMP_ARCH_PPC64LE','SCMP_ARCH_RISCV64']",
        "'architectures':[]",
    };
    for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
        char text[2048];
        snprintf(text, sizeof(text),
                 "{'defaultAction':'SCMP_ACT_ERRNO',%s,'syscalls':["
                 "{'names':['read','write','close','getpid','socket','accept4','recvmsg',"
                 "'ipc','shmget','semop','socketcall','open','stat','fstat','mmap','mmap2'],"
                 "'action':'SCMP_ACT_ALLOW'},"
                 "{'names':['socket'],'action':'SCMP_ACT_ERRNO','errnoRet':97,'args':["
                 "{'index':0,'value':16,'op':'SCMP_CMP_EQ'}]},"
                 "{'names':['personality'],'action':'SCMP_ACT_ALLOW','args':["
                 "{'index':0,'value':8,'op':'SCMP_CMP_EQ'}]}]}",
                 sets[i]);
        json_t *j = J(text);
        check_equivalent(j);
        json_decref(j);
    }
}

/* A program shape outside the rewrite (JSET on nr) is refused, so the
 * caller keeps libseccomp's program. */
static void test_unsupported_kept(void **state)
{
    (void)state;
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter *out = NULL;
    size_t n = 0;
    assert_int_equal(seccomp_bpf_rewrite(prog, ARRAY_SIZE(prog), &out, &n), -EOPNOTSUPP);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker_default),   cmocka_unit_test(test_docker_default_verdicts),
        cmocka_unit_test(test_operators),        cmocka_unit_test(test_masked_eq_and_split),
        cmocka_unit_test(test_actions),          cmocka_unit_test(test_arch_sets),
        cmocka_unit_test(test_unsupported_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

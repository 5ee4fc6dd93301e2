/* test-seccomp.c - linux.seccomp profiles compiled and loaded for real.
 *
 * Every filter is installed in a fork()ed child that sets no_new_privs first,
 * so no root is needed and the test runner itself stays unfiltered. The child
 * reports a failed check by exit code and a line on stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit-json.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/fd-util.h"
#include "basic/strbuf.h"
#include "libberth/runtime/seccomp.h"

static struct seccomp_program *compile_ok(const char *text)
{
    json_t *j = J(text);
    struct berth_error *err = NULL;
    struct seccomp_program *prog = NULL;
    int r = seccomp_program_compile(j, &prog, &err);
    json_decref(j);
    if (r < 0) {
        fail_msg("compile failed (%d): %s\nprofile: %s", r, err ? err->msg : "?", text);
    }
    assert_null(err);
    assert_non_null(prog);
    return prog;
}

/* Compile must fail with exactly this message and return -code. */
static void expect_error(const char *text, int code, const char *msg)
{
    json_t *j = J(text);
    struct berth_error *err = NULL;
    struct seccomp_program *prog = NULL;
    int r = seccomp_program_compile(j, &prog, &err);
    json_decref(j);
    if (r >= 0) {
        seccomp_program_free(prog);
        fail_msg("compile succeeded, expected '%s'\nprofile: %s", msg, text);
    }
    assert_non_null(err);
    assert_null(prog);
    if (!streq(err->msg, msg)) {
        fail_msg("error message\n  got:  %s\n  want: %s", err->msg, msg);
    }
    assert_int_equal(r, -code);
    assert_int_equal(err->code, code);
    berth_error_free(err);
}

#define CHILD_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            int e_ = errno;                                                                        \
            char buf_[256];                                                                        \
            int n_ = snprintf(buf_, sizeof(buf_), "child check failed, line %d: %s (errno %d)\n",  \
                              __LINE__, #cond, e_);                                                \
            (void)!write(STDERR_FILENO, buf_, (size_t)n_);                                         \
            _exit(3);                                                                              \
        }                                                                                          \
    } while (0)

/* Raw syscalls: glibc wrappers may cache (getpid) or pick another syscall. */
static long sys0(long nr)
{
    return syscall(nr);
}

static bool fails_with(long r, int e)
{
    return r == -1 && errno == e;
}

typedef void (*child_fn)(int notify_fd, int sock);

/* cmocka catches SIGSYS (and friends) to report a crashed test; in a child
 * that handler would longjmp back into the test runner. */
static void child_reset_signals(void)
{
    static const int sigs[] = {SIGSYS, SIGSEGV, SIGILL, SIGFPE, SIGBUS};
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
        signal(sigs[i], SIG_DFL);
    }
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); /* SIGSYS would dump core */
}

/* Fork; the child sets no_new_privs, loads prog and runs body. Returns the
 * wait status. sock, if >= 0, is the child's end of a socketpair. */
static int run_child_sock(const struct seccomp_program *prog, child_fn body, int sock, pid_t *ret)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_reset_signals();
        CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
        int fd = -2;
        struct berth_error *err = NULL;
        int r = seccomp_program_load(prog, &fd, &err);
        if (r < 0) {
            dprintf(STDERR_FILENO, "child: %s\n", err ? err->msg : "?");
            _exit(2);
        }
        body(fd, sock);
        _exit(0);
    }
    if (ret) {
        *ret = pid;
        return 0;
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static int run_child(const struct seccomp_program *prog, child_fn body)
{
    return run_child_sock(prog, body, -1, NULL);
}

static void assert_exit_ok(int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail_msg("child failed: %s %d", WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
}

static void body_getppid_eperm(int notify_fd, int sock)
{
    CHILD_CHECK(notify_fd == -1);
    CHILD_CHECK(fails_with(sys0(SYS_getppid), EPERM));
    CHILD_CHECK(sys0(SYS_getpid) > 0);
    struct utsname u;
    CHILD_CHECK(syscall(SYS_uname, &u) == 0);
}

static void test_errno_default_eperm(void **state)
{
    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getppid'],"
                   "'action':'SCMP_ACT_ERRNO'}]}");
    assert_null(seccomp_program_listener_path(prog));
    assert_null(seccomp_program_listener_metadata(prog));
    assert_exit_ok(run_child(prog, body_getppid_eperm));
    seccomp_program_free(prog);
}

static void body_uname_77(int notify_fd, int sock)
{
    struct utsname u;
    CHILD_CHECK(fails_with(syscall(SYS_uname, &u), 77));
    CHILD_CHECK(fails_with(sys0(SYS_getppid), 38));
    CHILD_CHECK(sys0(SYS_getpid) > 0);
}

static void test_errno_custom(void **state)
{
    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':["
                   "{'names':['uname'],'action':'SCMP_ACT_ERRNO','errnoRet':77},"
                   "{'names':['getppid'],'action':'SCMP_ACT_ERRNO','errnoRet':38}]}");
    assert_exit_ok(run_child(prog, body_uname_77));
    seccomp_program_free(prog);
}

static void body_allowlist(int notify_fd, int sock)
{
    CHILD_CHECK(sys0(SYS_getpid) > 0);
    CHILD_CHECK(fails_with(sys0(SYS_getppid), EACCES));
    struct utsname u;
    CHILD_CHECK(fails_with(syscall(SYS_uname, &u), EACCES));
    /* A rule equal to the default action was skipped, not refused. */
    CHILD_CHECK(fails_with(sys0(SYS_gettid), EACCES));
}

#define ALLOW_BASICS                                                                               \
    "{'names':['exit_group','exit','write','getpid','rt_sigreturn','brk','mmap','munmap',"         \
    "'sigaltstack','rt_sigaction','rt_sigprocmask','mprotect','madvise'],"                         \
    "'action':'SCMP_ACT_ALLOW'}"

static void test_default_errno_allowlist(void **state)
{
    struct seccomp_program *prog = compile_ok(
        "{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':13,'syscalls':[" ALLOW_BASICS ","
        "{'names':['gettid'],'action':'SCMP_ACT_ERRNO','errnoRet':13}]}");
    assert_exit_ok(run_child(prog, body_allowlist));
    seccomp_program_free(prog);

    /* Default ERRNO without defaultErrnoRet is EPERM; a rule with errnoRet 1
     * equals it and is skipped. */
    prog = compile_ok("{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[" ALLOW_BASICS ","
                      "{'names':['getppid'],'action':'SCMP_ACT_ERRNO','errnoRet':1},"
                      "{'names':['getppid'],'action':'SCMP_ACT_ERRNO'}]}");
    seccomp_program_free(prog);
}

static void body_unknown_skipped(int notify_fd, int sock)
{
    CHILD_CHECK(fails_with(sys0(SYS_getppid), EPERM));
    CHILD_CHECK(sys0(SYS_getpid) > 0);
}

static void test_unknown_syscall_skipped(void **state)
{
    struct seccomp_program *prog = compile_ok(
        "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['no_such_syscall_berth',"
        "'getppid','another_made_up_one'],'action':'SCMP_ACT_ERRNO'},"
        "{'names':['no_such_syscall_berth'],'action':'SCMP_ACT_KILL'}]}");
    assert_exit_ok(run_child(prog, body_unknown_skipped));
    seccomp_program_free(prog);
}

static void body_personality_eq(int notify_fd, int sock)
{
    CHILD_CHECK(fails_with(syscall(SYS_personality, 0xffffffffUL), EDOM));
    /* PER_LINUX is what the process runs with anyway. */
    CHILD_CHECK(syscall(SYS_personality, (unsigned long)PER_LINUX) >= 0);
}

static void test_args_eq(void **state)
{
    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['personality'],"
                   "'action':'SCMP_ACT_ERRNO','errnoRet':33,"
                   "'args':[{'index':0,'value':4294967295,'op':'SCMP_CMP_EQ'}]}]}");
    assert_exit_ok(run_child(prog, body_personality_eq));
    seccomp_program_free(prog);
}

static void body_personality_split(int notify_fd, int sock)
{
    CHILD_CHECK(fails_with(syscall(SYS_personality, 0xffffffffUL), EDOM));
    CHILD_CHECK(fails_with(syscall(SYS_personality, 8UL), EDOM));
    CHILD_CHECK(syscall(SYS_personality, (unsigned long)PER_LINUX) >= 0);
}

static void test_args_same_index_split(void **state)
{
    /* Two conditions on arg 0 cannot both hold; libseccomp refuses them in
     * one rule, runc splits them into one rule each (either matches). */
    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['personality'],"
                   "'action':'SCMP_ACT_ERRNO','errnoRet':33,'args':["
                   "{'index':0,'value':8,'op':'SCMP_CMP_EQ'},"
                   "{'index':0,'value':4294967295,'op':'SCMP_CMP_EQ'}]}]}");
    assert_exit_ok(run_child(prog, body_personality_split));
    seccomp_program_free(prog);
}

/* getpriority(which, who): PRIO_PROCESS with who=0 is ourselves; other
 * values are some pid or none, but never the rule's errno 77. */
static bool prio_blocked(long which, long who)
{
    return fails_with(syscall(SYS_getpriority, which, who), 77);
}

static void body_args_and(int notify_fd, int sock)
{
    CHILD_CHECK(prio_blocked(PRIO_PROCESS, 0x3012));
    CHILD_CHECK(!prio_blocked(PRIO_PGRP, 0x3012));    /* arg 0 differs */
    CHILD_CHECK(!prio_blocked(PRIO_PROCESS, 0x4012)); /* masked arg 1 differs */
    CHILD_CHECK(!prio_blocked(PRIO_PROCESS, 0));
}

static void test_args_and_masked(void **state)
{
    /* Conditions on different arguments all have to hold. */
    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getpriority'],"
                   "'action':'SCMP_ACT_ERRNO','errnoRet':77,'args':["
                   "{'index':0,'value':0,'op':'SCMP_CMP_EQ'},"
                   "{'index':1,'value':65280,'valueTwo':12288,'op':'SCMP_CMP_MASKED_EQ'}]}]}");
    assert_exit_ok(run_child(prog, body_args_and));
    seccomp_program_free(prog);
}

/* Which of who = 99, 100, 101 the operator blocks, as a bit mask. */
static struct {
    const char *op;
    unsigned expect;
} op_cases[] = {
    {"SCMP_CMP_NE", 0x5}, {"SCMP_CMP_LT", 0x1}, {"SCMP_CMP_LE", 0x3},
    {"SCMP_CMP_EQ", 0x2}, {"SCMP_CMP_GE", 0x6}, {"SCMP_CMP_GT", 0x4},
};
static unsigned op_expect;

static void body_op(int notify_fd, int sock)
{
    for (unsigned i = 0; i < 3; i++) {
        bool want = op_expect & (1u << i);
        CHILD_CHECK(prio_blocked(PRIO_PROCESS, 99 + i) == want);
    }
}

static void test_operators(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(op_cases); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getpriority'],"
                 "'action':'SCMP_ACT_ERRNO','errnoRet':77,'args':["
                 "{'index':1,'value':100,'op':'%s'}]}]}",
                 op_cases[i].op);
        struct seccomp_program *prog = compile_ok(text);
        op_expect = op_cases[i].expect;
        int status = run_child(prog, body_op);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fail_msg("operator %s: child failed", op_cases[i].op);
        }
        seccomp_program_free(prog);
    }
}

static void body_call_getppid(int notify_fd, int sock)
{
    sys0(SYS_getppid);
}

static void body_trace_enosys(int notify_fd, int sock)
{
    /* SCMP_ACT_TRACE without a tracer: the kernel fails the call, ENOSYS. */
    CHILD_CHECK(fails_with(sys0(SYS_getppid), ENOSYS));
}

static void body_log_allowed(int notify_fd, int sock)
{
    CHILD_CHECK(sys0(SYS_getppid) > 0);
}

static void test_actions(void **state)
{
    static const char *const killers[] = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                          "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"};
    char text[256];
    for (size_t i = 0; i < ARRAY_SIZE(killers); i++) {
        snprintf(text, sizeof(text),
                 "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getppid'],"
                 "'action':'%s'}]}",
                 killers[i]);
        struct seccomp_program *prog = compile_ok(text);
        int status = run_child(prog, body_call_getppid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS) {
            fail_msg("%s: expected death by SIGSYS, status 0x%x", killers[i], status);
        }
        seccomp_program_free(prog);
    }

    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getppid'],"
                   "'action':'SCMP_ACT_TRACE'}]}");
    assert_exit_ok(run_child(prog, body_trace_enosys));
    seccomp_program_free(prog);

    prog = compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getppid'],"
                      "'action':'SCMP_ACT_LOG'}]}");
    assert_exit_ok(run_child(prog, body_log_allowed));
    seccomp_program_free(prog);
}

static void body_notify(int notify_fd, int sock)
{
    CHILD_CHECK(notify_fd >= 0);
    CHILD_CHECK(fcntl(notify_fd, F_GETFD) == FD_CLOEXEC);
    CHILD_CHECK(send_fd(sock, notify_fd, "n", 1) == 0);
    close(notify_fd);
    /* Blocks until the parent answers as the agent would. */
    CHILD_CHECK(fails_with(sys0(SYS_getppid), EXDEV));
    CHILD_CHECK(sys0(SYS_getpid) > 0);
}

static void test_notify(void **state)
{
    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','listenerPath':'/run/agent.sock',"
                   "'listenerMetadata':'meta','flags':['SECCOMP_FILTER_FLAG_TSYNC'],"
                   "'syscalls':[{'names':['getppid'],'action':'SCMP_ACT_NOTIFY'}]}");
    assert_string_equal(seccomp_program_listener_path(prog), "/run/agent.sock");
    assert_string_equal(seccomp_program_listener_metadata(prog), "meta");

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid;
    run_child_sock(prog, body_notify, sv[1], &pid);
    close(sv[1]);

    /* Play the agent; on any failure kill the child before failing, so it
     * does not stay blocked in getppid. */
    const char *failed = NULL;
    int fd = -1;
    char c;
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    struct pollfd pfd = {.events = POLLIN};
    if (recv_fd(sv[0], &fd, &c, 1) != 1 || fd < 0) {
        failed = "no listener fd received";
    } else if ((pfd.fd = fd, poll(&pfd, 1, 10000)) != 1) {
        failed = "no notification within 10 s";
    } else if (seccomp_notify_alloc(&req, &resp) < 0 || seccomp_notify_receive(fd, req) < 0) {
        failed = "seccomp_notify_receive";
    } else if (req->data.nr != SYS_getppid || req->pid != (uint32_t)pid) {
        failed = "notification for another syscall or process";
    } else {
        resp->id = req->id;
        resp->val = 0;
        resp->error = -EXDEV;
        resp->flags = 0;
        if (seccomp_notify_respond(fd, resp) < 0) {
            failed = "seccomp_notify_respond";
        }
    }
    if (failed) {
        kill(pid, SIGKILL);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    seccomp_notify_free(req, resp);
    safe_close(fd);
    close(sv[0]);
    if (failed) {
        fail_msg("%s", failed);
    }
    assert_exit_ok(status);
    seccomp_program_free(prog);
}

/* Without no_new_privs and CAP_SYS_ADMIN the kernel refuses the filter. */
static void test_load_eacces(void **state)
{
    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getppid'],"
                   "'action':'SCMP_ACT_ERRNO'}]}");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_reset_signals();
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];
        CHILD_CHECK(syscall(SYS_capget, &h, d) == 0);
        d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
        CHILD_CHECK(syscall(SYS_capset, &h, d) == 0);
        int fd = -2;
        struct berth_error *err = NULL;
        int r = seccomp_program_load(prog, &fd, &err);
        CHILD_CHECK(r == -EACCES);
        CHILD_CHECK(fd == -2);
        CHILD_CHECK(err && err->code == EACCES && strstr(err->msg, "no_new_privs"));
        CHILD_CHECK(sys0(SYS_getppid) > 0);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_exit_ok(status);
    seccomp_program_free(prog);
}

static bool features_has_flag(const char *list, const char *flag)
{
    json_t *f = seccomp_features_json();
    json_t *a = json_object_get(f, list);
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (streq(json_string_value(e), flag)) {
            found = true;
        }
    }
    json_decref(f);
    return found;
}

static void test_flags(void **state)
{
    struct seccomp_program *prog =
        compile_ok("{'defaultAction':'SCMP_ACT_ALLOW','flags':['SECCOMP_FILTER_FLAG_TSYNC',"
                   "'SECCOMP_FILTER_FLAG_LOG','SECCOMP_FILTER_FLAG_SPEC_ALLOW'],"
                   "'syscalls':[{'names':['getppid'],'action':'SCMP_ACT_ERRNO'}]}");
    assert_exit_ok(run_child(prog, body_getppid_eperm));
    seccomp_program_free(prog);

    /* Meaningless without SCMP_ACT_NOTIFY: accepted if the kernel knows it,
     * and dropped so the load does not fail. */
    static const char wk[] = "{'defaultAction':'SCMP_ACT_ALLOW','flags':["
                             "'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],'syscalls':[{'names':"
                             "['getppid'],'action':'SCMP_ACT_ERRNO'}]}";
    if (features_has_flag("supportedFlags", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")) {
        prog = compile_ok(wk);
        assert_exit_ok(run_child(prog, body_getppid_eperm));
        seccomp_program_free(prog);
    } else {
        expect_error(wk, EOPNOTSUPP,
                     "linux.seccomp.flags[0]: 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV' is not "
                     "supported by this kernel");
    }
}

static void test_architectures(void **state)
{
    /* Every name of the spec: foreign or big-endian ones, or ones this
     * libseccomp does not know, are skipped rather than refused. */
    struct seccomp_program *prog = compile_ok(
        "{'defaultAction':'SCMP_ACT_ALLOW','architectures':['SCMP_ARCH_X86','SCMP_ARCH_X86_64',"
        "'SCMP_ARCH_X32','SCMP_ARCH_ARM','SCMP_ARCH_AARCH64','SCMP_ARCH_LOONGARCH64',"
        "'SCMP_ARCH_M68K','SCMP_ARCH_MIPS','SCMP_ARCH_MIPS64','SCMP_ARCH_MIPS64N32',"
        "'SCMP_ARCH_MIPSEL','SCMP_ARCH_MIPSEL64','SCMP_ARCH_MIPSEL64N32','SCMP_ARCH_PPC',"
        "'SCMP_ARCH_PPC64','SCMP_ARCH_PPC64LE','SCMP_ARCH_S390','SCMP_ARCH_S390X',"
        "'SCMP_ARCH_SH','SCMP_ARCH_SHEB','SCMP_ARCH_PARISC','SCMP_ARCH_PARISC64',"
        "'SCMP_ARCH_RISCV64'],"
        "'syscalls':[{'names':['getppid'],'action':'SCMP_ACT_ERRNO'}]}");
    assert_exit_ok(run_child(prog, body_getppid_eperm));
    seccomp_program_free(prog);
}

static void test_errors(void **state)
{
    static const struct {
        const char *profile;
        int code;
        const char *msg;
    } cases[] = {
        {"[]", EINVAL, "linux.seccomp: expected an object"},
        {"{}", EINVAL, "linux.seccomp.defaultAction: required field missing"},
        {"{'defaultAction':7}", EINVAL, "linux.seccomp.defaultAction: expected a string"},
        {"{'defaultAction':'SCMP_ACT_FOO'}", EINVAL,
         "linux.seccomp.defaultAction: unknown action 'SCMP_ACT_FOO'"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','defaultErrnoRet':5}", EINVAL,
         "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not "
         "'SCMP_ACT_ALLOW'"},
        {"{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':-1}", EINVAL,
         "linux.seccomp.defaultErrnoRet: expected an unsigned 32-bit integer"},
        {"{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':65536}", EINVAL,
         "linux.seccomp.defaultErrnoRet: 65536 out of range (at most 65535)"},
        {"{'defaultAction':'SCMP_ACT_NOTIFY','listenerPath':'/x'}", EINVAL,
         "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','listenerMetadata':'m'}", EINVAL,
         "linux.seccomp.listenerMetadata: set without listenerPath"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','listenerPath':3}", EINVAL,
         "linux.seccomp.listenerPath: expected a string"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','architectures':'SCMP_ARCH_X86'}", EINVAL,
         "linux.seccomp.architectures: expected an array"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','architectures':['SCMP_ARCH_X86',1]}", EINVAL,
         "linux.seccomp.architectures[1]: expected a string"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','architectures':['SCMP_ARCH_X86','SCMP_ARCH_FOO']}",
         EINVAL, "linux.seccomp.architectures[1]: unknown architecture 'SCMP_ARCH_FOO'"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','flags':{}}", EINVAL,
         "linux.seccomp.flags: expected an array"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','flags':['SECCOMP_FILTER_FLAG_FOO']}", EINVAL,
         "linux.seccomp.flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_FOO'"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','flags':[true]}", EINVAL,
         "linux.seccomp.flags[0]: expected a string"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':{}}", EINVAL,
         "linux.seccomp.syscalls: expected an array"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[1]}", EINVAL,
         "linux.seccomp.syscalls[0]: expected an object"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'action':'SCMP_ACT_ERRNO'}]}", EINVAL,
         "linux.seccomp.syscalls[0].names: required field missing"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':'read',"
         "'action':'SCMP_ACT_ERRNO'}]}",
         EINVAL, "linux.seccomp.syscalls[0].names: expected an array"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':[],"
         "'action':'SCMP_ACT_ERRNO'}]}",
         EINVAL, "linux.seccomp.syscalls[0].names: expected at least one name"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read',2],"
         "'action':'SCMP_ACT_ERRNO'}]}",
         EINVAL, "linux.seccomp.syscalls[0].names[1]: expected a syscall name"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read',''],"
         "'action':'SCMP_ACT_ERRNO'}]}",
         EINVAL, "linux.seccomp.syscalls[0].names[1]: expected a syscall name"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read']}]}", EINVAL,
         "linux.seccomp.syscalls[0].action: required field missing"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],'action':'ERRNO'},"
         "{'names':['read'],'action':'SCMP_ACT_FOO'}]}",
         EINVAL, "linux.seccomp.syscalls[0].action: unknown action 'ERRNO'"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_KILL','errnoRet':1}]}",
         EINVAL,
         "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, "
         "not 'SCMP_ACT_KILL'"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','errnoRet':'EPERM'}]}",
         EINVAL, "linux.seccomp.syscalls[0].errnoRet: expected an unsigned 32-bit integer"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','args':{}}]}",
         EINVAL, "linux.seccomp.syscalls[0].args: expected an array"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','args':[[]]}]}",
         EINVAL, "linux.seccomp.syscalls[0].args[0]: expected an object"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','args':[{'value':1,'op':'SCMP_CMP_EQ'}]}]}",
         EINVAL, "linux.seccomp.syscalls[0].args[0].index: required field missing"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','args':[{'index':6,'value':1,'op':'SCMP_CMP_EQ'}]}]}",
         EINVAL,
         "linux.seccomp.syscalls[0].args[0].index: 6 out of range (syscalls take at most 6 "
         "arguments, 0 to 5)"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','args':[{'index':0,'op':'SCMP_CMP_EQ'}]}]}",
         EINVAL, "linux.seccomp.syscalls[0].args[0].value: required field missing"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','args':[{'index':0,'value':'1','op':'SCMP_CMP_EQ'}]}]}",
         EINVAL, "linux.seccomp.syscalls[0].args[0].value: expected an unsigned integer"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','args':[{'index':0,'value':1,'valueTwo':-2,"
         "'op':'SCMP_CMP_EQ'}]}]}",
         EINVAL, "linux.seccomp.syscalls[0].args[0].valueTwo: expected an unsigned integer"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],"
         "'action':'SCMP_ACT_ERRNO','args':[{'index':0,'value':1}]}]}",
         EINVAL, "linux.seccomp.syscalls[0].args[0].op: required field missing"},
        /* The unknown name in the entry does not hide the bad operator. */
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':["
         "{'names':['read'],'action':'SCMP_ACT_ERRNO'},"
         "{'names':['write'],'action':'SCMP_ACT_ALLOW'},"
         "{'names':['no_such_syscall'],'action':'SCMP_ACT_ERRNO',"
         "'args':[{'index':0,'value':1,'op':'SCMP_CMP_FOO'}]}]}",
         EINVAL, "linux.seccomp.syscalls[2].args[0].op: unknown operator 'SCMP_CMP_FOO'"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['getppid'],"
         "'action':'SCMP_ACT_NOTIFY'}]}",
         EINVAL, "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used"},
        {"{'defaultAction':'SCMP_ACT_ALLOW','listenerPath':'/x','syscalls':[{'names':"
         "['getppid','write'],'action':'SCMP_ACT_NOTIFY'}]}",
         EINVAL,
         "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the "
         "'write' syscall"},
        /* The same condition with two actions: libseccomp cannot choose. */
        {"{'defaultAction':'SCMP_ACT_ALLOW','syscalls':["
         "{'names':['getppid'],'action':'SCMP_ACT_ERRNO','args':[{'index':0,'value':1,"
         "'op':'SCMP_CMP_EQ'}]},"
         "{'names':['getppid'],'action':'SCMP_ACT_KILL','args':[{'index':0,'value':1,"
         "'op':'SCMP_CMP_EQ'}]}]}",
         EEXIST, "linux.seccomp.syscalls[1]: 'getppid' conflicts with an earlier rule"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        expect_error(cases[i].profile, cases[i].code, cases[i].msg);
    }

    /* A NULL error pointer still yields the code. */
    json_t *j = J("{'defaultAction':'SCMP_ACT_FOO'}");
    struct seccomp_program *prog = NULL;
    assert_int_equal(seccomp_program_compile(j, &prog, NULL), -EINVAL);
    assert_null(prog);
    json_decref(j);
}

/* Roughly Docker's default profile: an allowlist of ~350 names (some unknown
 * to this libseccomp or this architecture) and its argument rules. */
static const char *const docker_allow[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    "arch_prctl",
    "modify_ldt",
};

/* With multiarch, the architectures Docker lists on this machine. */
static json_t *docker_like_profile(bool multiarch)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':1,");
#if defined(__x86_64__)
    if (multiarch) {
        strbuf_adds(&sb, "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86','SCMP_ARCH_X32'],");
    }
#elif defined(__aarch64__)
    if (multiarch) {
        strbuf_adds(&sb, "'architectures':['SCMP_ARCH_AARCH64','SCMP_ARCH_ARM'],");
    }
#endif
    strbuf_adds(&sb, "'syscalls':[{'names':[");
    for (size_t i = 0; i < ARRAY_SIZE(docker_allow); i++) {
        strbuf_addf(&sb, "%s'%s'", i ? "," : "", docker_allow[i]);
    }
    strbuf_adds(&sb, "],'action':'SCMP_ACT_ALLOW'}");
    static const unsigned long personas[] = {0, 8, 131072, 131080, 4294967295UL};
    for (size_t i = 0; i < ARRAY_SIZE(personas); i++) {
        strbuf_addf(&sb,
                    ",{'names':['personality'],'action':'SCMP_ACT_ALLOW','args':[{'index':0,"
                    "'value':%lu,'op':'SCMP_CMP_EQ'}]}",
                    personas[i]);
    }
    strbuf_adds(&sb, ",{'names':['clone'],'action':'SCMP_ACT_ALLOW','args':[{'index':0,"
                     "'value':2114060288,'valueTwo':0,'op':'SCMP_CMP_MASKED_EQ'}]}"
                     ",{'names':['clone3'],'action':'SCMP_ACT_ERRNO','errnoRet':38}"
                     ",{'names':['socket'],'action':'SCMP_ACT_ALLOW','args':[{'index':0,"
                     "'value':40,'op':'SCMP_CMP_NE'}]}"
                     "]}");
    json_t *j = J(strbuf_str(&sb));
    strbuf_release(&sb);
    return j;
}

static void body_docker_like(int notify_fd, int sock)
{
    CHILD_CHECK(sys0(SYS_getpid) > 0);
    CHILD_CHECK(sys0(SYS_getppid) > 0);
    /* kcmp is not in the allowlist; comparing ourselves with ourselves is
     * harmless should the filter fail to stop it. */
    long self = sys0(SYS_getpid);
    CHILD_CHECK(fails_with(syscall(SYS_kcmp, self, self, 0, 0, 0), EPERM));
    CHILD_CHECK(fails_with(syscall(SYS_clone3, NULL, 0), ENOSYS));
    CHILD_CHECK(fails_with(syscall(SYS_personality, 0x1234UL), EPERM));
    CHILD_CHECK(syscall(SYS_personality, 0xffffffffUL) >= 0);
    CHILD_CHECK(fails_with(syscall(SYS_socket, 40, SOCK_STREAM, 0), EPERM));
    int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHILD_CHECK(s >= 0);
    close(s);
}

/* Best of five compiles, in milliseconds; the first also warms libseccomp. */
static double time_compile(json_t *profile, struct seccomp_program **ret)
{
    double best = 1e9;
    for (int i = 0; i < 5; i++) {
        struct seccomp_program *prog = NULL;
        struct berth_error *err = NULL;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = seccomp_program_compile(profile, &prog, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r < 0) {
            fail_msg("compile: %s", err ? err->msg : "?");
        }
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        best = ms < best ? ms : best;
        seccomp_program_free(*ret);
        *ret = prog;
    }
    return best;
}

static void test_large_profile(void **state)
{
    /* Timing is printed, not asserted: it depends on the machine. */
    static const bool variants[] = {false, true};
    for (size_t v = 0; v < ARRAY_SIZE(variants); v++) {
        json_t *j = docker_like_profile(variants[v]);
        struct seccomp_program *prog = NULL;
        double ms = time_compile(j, &prog);
        printf("# docker-like profile (%zu allowed names, %s): compiled in %.3f ms\n",
               ARRAY_SIZE(docker_allow), variants[v] ? "all Docker architectures" : "native only",
               ms);
        assert_exit_ok(run_child(prog, body_docker_like));
        seccomp_program_free(prog);
        json_decref(j);
    }
}

static void test_features(void **state)
{
    json_t *f = seccomp_features_json();
    assert_non_null(f);
    assert_true(json_is_true(json_object_get(f, "enabled")));
    assert_int_equal(json_array_size(json_object_get(f, "actions")), 9);
    assert_int_equal(json_array_size(json_object_get(f, "operators")), 7);
    assert_int_equal(json_array_size(json_object_get(f, "knownFlags")), 4);
    assert_true(json_array_size(json_object_get(f, "archs")) >= 19);
    json_t *supported = json_object_get(f, "supportedFlags");
    assert_true(json_is_array(supported));
    json_decref(f);
    assert_true(features_has_flag("actions", "SCMP_ACT_NOTIFY"));
    assert_true(features_has_flag("operators", "SCMP_CMP_MASKED_EQ"));
#if defined(__x86_64__)
    assert_true(features_has_flag("archs", "SCMP_ARCH_X86_64"));
#endif
    assert_true(features_has_flag("supportedFlags", "SECCOMP_FILTER_FLAG_TSYNC"));
    assert_true(features_has_flag("knownFlags", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"));
}

/* The compiled-program cache: a second compile of the same profile comes
 * from the file and is the same program; a damaged file is ignored and
 * rewritten; another profile gets another file. */
static void test_cache(void **state)
{
    char dir[] = "/tmp/berth-sc-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *cache = xasprintf("%s/@seccomp", dir);
    json_t *p = docker_like_profile(false);
    struct seccomp_program *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(seccomp_program_compile_cached(p, cache, &a, NULL), 0);
    assert_int_equal(seccomp_program_compile_cached(p, cache, &b, NULL), 0);
    unsigned long fa, fb;
    const struct sock_fprog *pa = seccomp_program_fprog(a, &fa);
    const struct sock_fprog *pb = seccomp_program_fprog(b, &fb);
    assert_int_equal(pa->len, pb->len);
    assert_memory_equal(pa->filter, pb->filter, pa->len * sizeof(struct sock_filter));
    assert_int_equal(fa, fb);
    /* exactly one cache file; damage it */
    DIR *d = opendir(cache);
    assert_non_null(d);
    struct dirent *de;
    int files = 0;
    char name[300] = "";
    while ((de = readdir(d))) {
        if (de->d_name[0] != '.') {
            files++;
            snprintf(name, sizeof(name), "%s/%s", cache, de->d_name);
        }
    }
    closedir(d);
    assert_int_equal(files, 1);
    FILE *f = fopen(name, "r+");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(seccomp_program_compile_cached(p, cache, &c, NULL), 0);
    const struct sock_fprog *pc = seccomp_program_fprog(c, &fb);
    assert_int_equal(pc->len, pa->len);
    assert_memory_equal(pc->filter, pa->filter, pa->len * sizeof(struct sock_filter));
    seccomp_program_free(a);
    seccomp_program_free(b);
    seccomp_program_free(c);
    json_decref(p);
    assert_int_equal(rm_rf_at(AT_FDCWD, dir, NULL), 0);
    free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errno_default_eperm),
        cmocka_unit_test(test_errno_custom),
        cmocka_unit_test(test_default_errno_allowlist),
        cmocka_unit_test(test_unknown_syscall_skipped),
        cmocka_unit_test(test_args_eq),
        cmocka_unit_test(test_args_same_index_split),
        cmocka_unit_test(test_args_and_masked),
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_load_eacces),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_architectures),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_large_profile),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

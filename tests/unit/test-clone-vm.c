/* test-clone-vm.c - clone3_vm: the child runs on its own stack in the
 * caller's memory, the caller waits for it (CLONE_VFORK), its return
 * value is its exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libberth/runtime/clone-vm.h"

#define STACK (256u << 10)

struct shared {
    int seen;
    pid_t child_pid;
    char buf[64];
};

static int child(void *arg)
{
    struct shared *s = arg;
    s->seen = 42;
    s->child_pid = getpid();
    /* Deep enough to use the stack, and libc calls work. */
    char local[4096];
    memset(local, 'x', sizeof(local));
    strncpy(s->buf, "from the child", sizeof(s->buf) - 1);
    return local[100] == 'x' ? 7 : 1;
}

static void test_runs_in_callers_memory(void **state)
{
    (void)state;
    char *stack =
        mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    assert_true(stack != MAP_FAILED);
    struct shared s = {0};
    struct clone_args a = {.flags = CLONE_VM | CLONE_VFORK,
                           .exit_signal = SIGCHLD,
                           .stack = (uint64_t)(uintptr_t)stack,
                           .stack_size = STACK};
    pid_t pid = clone3_vm(&a, child, &s);
    assert_true(pid > 0);
    /* CLONE_VFORK: the child has exited by the time clone3_vm returns. */
    assert_int_equal(s.seen, 42);
    assert_int_equal(s.child_pid, pid);
    assert_string_equal(s.buf, "from the child");
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 7);
    munmap(stack, STACK);
}

static void test_refuses_without_vm_or_stack(void **state)
{
    (void)state;
    struct shared s = {0};
    struct clone_args a = {.flags = CLONE_VFORK, .exit_signal = SIGCHLD};
    assert_int_equal(clone3_vm(&a, child, &s), -EINVAL);
    a.flags = CLONE_VM | CLONE_VFORK;
    assert_int_equal(clone3_vm(&a, child, &s), -EINVAL); /* no stack */
    assert_int_equal(s.seen, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_in_callers_memory),
        cmocka_unit_test(test_refuses_without_vm_or_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* clone-vm.h - clone3() with CLONE_VM: a child that runs a function on a
 * stack of its own, in the caller's memory.
 *
 * Why: the runtime clones the container's init from a process whose
 * address space is berth's (the CLI's, a few MB): a fork copies its page
 * tables, every page the init then writes is a copy-on-write fault, and
 * the init's exec of the exec stub tears the copy down again. With
 * CLONE_VM | CLONE_VFORK none of that happens: the caller is suspended
 * until the child execs (or exits), and meanwhile the child is, in effect,
 * the caller's thread continuing on another stack, as posix_spawn's child
 * is. glibc's clone() cannot pass clone3's arguments (CLONE_INTO_CGROUP),
 * and a raw clone3 with a new stack returns into the caller's frame on the
 * wrong stack, hence this: the child calls fn(arg) on args->stack and exits
 * with its return value if it returns.
 *
 * The caller fills args (flags must include CLONE_VM; stack and stack_size
 * set, stack_size a multiple of 16). Returns the child's pid, or -errno;
 * -ENOSYS where the architecture has no implementation here (callers fall
 * back to a fork). */
#ifndef BERTH_RUNTIME_CLONE_VM_H
#define BERTH_RUNTIME_CLONE_VM_H

#include <linux/sched.h>
#include <sys/types.h>

pid_t clone3_vm(struct clone_args *args, int (*fn)(void *), void *arg);

#endif

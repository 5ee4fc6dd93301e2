/* clone-vm.c - see clone-vm.h. */
#include "clone-vm.h"

#include <errno.h>
#include <sys/syscall.h>

pid_t clone3_vm(struct clone_args *args, int (*fn)(void *), void *arg)
{
    if (!(args->flags & CLONE_VM) || !args->stack || !args->stack_size || (args->stack_size & 15) ||
        ((args->stack + args->stack_size) & 15)) {
        return -EINVAL;
    }
#if defined(__x86_64__)
    /* fn and arg in callee-saved registers, which the child inherits; the
     * kernel starts the child with %rsp at the top of the new stack. */
    register long r12 __asm__("r12") = (long)fn;
    register long r13 __asm__("r13") = (long)arg;
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov %[exit], %%eax\n\t"
                     "syscall\n\t"
                     "hlt\n"
                     "1:"
                     : "=a"(ret)
                     : "a"((long)SYS_clone3), "D"(args), "S"(sizeof(*args)), "r"(r12),
                       "r"(r13), [exit] "i"(SYS_exit)
                     : "rcx", "r11", "memory");
    return (pid_t)ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_clone3;
    register long x0 __asm__("x0") = (long)args;
    register long x1 __asm__("x1") = (long)sizeof(*args);
    register long x19 __asm__("x19") = (long)fn;
    register long x20 __asm__("x20") = (long)arg;
    __asm__ volatile("svc #0\n\t"
                     "cbnz x0, 1f\n\t"
                     "mov x29, xzr\n\t"
                     "mov x0, x20\n\t"
                     "blr x19\n\t"
                     "mov x8, %[exit]\n\t"
                     "svc #0\n\t"
                     "brk #0\n"
                     "1:"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x19), "r"(x20), [exit] "i"(SYS_exit)
                     : "x30", "memory");
    return (pid_t)x0;
#else
    (void)fn;
    (void)arg;
    return -ENOSYS;
#endif
}

/* stub-syscall.h - the system call and the entry point of berth's
 * freestanding programs: runtime/exec-stub.c, container/monitor-stub.c and
 * container/init-stub.c. They run with no libc (they are what stays in a
 * container's or a monitor's address space), so each architecture's
 * syscall convention is written out here once, and _start hands the
 * initial stack pointer (argc, argv, envp) to the program's entry:
 *
 *     #include "../runtime/stub-syscall.h"   (a path relative to the stub)
 *     STUB_ENTRY(stub_main)
 *     void stub_main(long *sp) { ... }
 *
 * Only these programs include it: libberth is built with libc. */
#ifndef BERTH_RUNTIME_STUB_SYSCALL_H
#define BERTH_RUNTIME_STUB_SYSCALL_H

#define STUB_STR_(x) #x
#define STUB_STR(x) STUB_STR_(x)

#if defined(__x86_64__)
static long sc(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}
#define STUB_ENTRY(main)                                                                           \
    __asm__(".text\n"                                                                              \
            ".global _start\n"                                                                     \
            "_start:\n"                                                                            \
            "  xor %rbp, %rbp\n"                                                                   \
            "  mov %rsp, %rdi\n"                                                                   \
            "  and $-16, %rsp\n"                                                                   \
            "  call " STUB_STR(main) "\n"                                                          \
                                     "  hlt\n");
#elif defined(__aarch64__)
static long sc(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}
#define STUB_ENTRY(main)                                                                           \
    __asm__(".text\n"                                                                              \
            ".global _start\n"                                                                     \
            "_start:\n"                                                                            \
            "  mov x0, sp\n"                                                                       \
            "  bl " STUB_STR(main) "\n");
#else
#error "berth's freestanding stubs: add this architecture's syscall convention"
#endif

#endif

/* seccomp-bpf.h - a seccomp cBPF program rewritten into a smaller one with
 * exactly the same verdicts.
 *
 * Why: libseccomp compares the syscall number with one JEQ per rule, so
 * Docker's default profile is ~1200 instructions for x86_64+x32+x86, and the
 * kernel pays for every one of them at each container start (converting and
 * JITing the program, then emulating it for every syscall number of every
 * architecture to fill its allow cache, Linux >= 5.11). Allowed syscalls come
 * in long runs of consecutive numbers, so a binary search over intervals of
 * numbers with the same outcome is several times shorter.
 *
 * How, and why this way rather than a second profile compiler: the rewrite
 * starts from the program libseccomp exported, not from the profile. The
 * part of that program that looks only at seccomp_data.arch and .nr (loads
 * of offsets 0 and 4, JEQ/JGT/JGE/JA with constants, RET with a constant) is
 * executed symbolically on intervals of arch and nr values, which yields an
 * exact partition of all 2^64 (arch, nr) pairs into boxes, each ending in
 * either a RET k or the first instruction that loads something else (an
 * argument or the instruction pointer: a "residual" entry). The new program
 * tests arch, then nr, each by a binary search over the merged intervals,
 * and jumps to the same RET k or to a verbatim copy of the instructions
 * reachable from the residual entry. At that entry the original program's
 * state is only the program counter (A is about to be overwritten; X and
 * scratch memory are never touched before it), so the copied code behaves
 * exactly as it did. Every libseccomp subtlety (bad-arch action, the x32
 * __X32_SYSCALL_BIT split inside AUDIT_ARCH_X86_64, socketcall/ipc
 * multiplexing on 32-bit x86, 32- versus 64-bit argument comparisons, rule
 * precedence) is thereby inherited, not re-implemented. Anything else in the
 * prefix (ALU on nr, JSET, X, scratch memory) makes the rewrite refuse, and
 * the caller keeps libseccomp's program.
 *
 * The result is checked before it is returned: the new program's own
 * partition is computed the same way and compared box by box with the
 * original's (residual entries mapped to their copies); any difference is
 * an internal error (-EPROTO) and the caller keeps libseccomp's program.
 */
#ifndef BERTH_RUNTIME_SECCOMP_BPF_H
#define BERTH_RUNTIME_SECCOMP_BPF_H

#include <linux/filter.h>
#include <stddef.h>

/* Bumped whenever the rewrite's output can change: part of the key of the
 * compiled-program cache (seccomp.c), so a stale program is never reused. */
#define SECCOMP_BPF_REWRITE_VERSION 1

/* Rewrite in[0..n) into *ret (malloc'ed, *ret_n instructions). 0 on
 * success; -EOPNOTSUPP for a program shape it does not handle, -E2BIG when
 * the analysis or the result would be too large, -EINVAL for a malformed
 * program, -EPROTO if the self-check failed. Nothing is written on error. */
int seccomp_bpf_rewrite(const struct sock_filter *in, size_t n, struct sock_filter **ret,
                        size_t *ret_n);

#endif

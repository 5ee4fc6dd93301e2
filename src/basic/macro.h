/* macro.h - small language helpers shared by every layer.
 *
 * Cleanup attributes give scope-bound ownership: a variable declared with
 * _cleanup_free_ is freed when it leaves scope unless ownership is handed on
 * with TAKE_PTR() (TAKE_FD() for descriptors). Every destructor accepts NULL
 * or -1 so that partially initialised scopes unwind safely.
 */
#ifndef BERTH_BASIC_MACRO_H
#define BERTH_BASIC_MACRO_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define STR_(x) #x
#define STRINGIFY(x) STR_(x)

/* Hand a pointer's ownership to the caller: returns it and clears the variable
 * so the cleanup attribute on it becomes a no-op. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) take_ptr_tmp_ = (p);                                                         \
        (p) = NULL;                                                                                \
        take_ptr_tmp_;                                                                             \
    })

#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int take_fd_tmp_ = (fd);                                                                   \
        (fd) = -1;                                                                                 \
        take_fd_tmp_;                                                                              \
    })

static inline void freep(void *p)
{
    free(*(void **)p);
}

/* Close a descriptor without disturbing errno, so it can run on error paths. */
static inline int safe_close(int fd)
{
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return -1;
}

static inline void closep(int *fd)
{
    safe_close(*fd);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Define a cleanup helper "<func>p" for a type freed by <func>(T *). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
    static inline void func##p(type *p)                                                            \
    {                                                                                              \
        if (*p)                                                                                    \
            func(*p);                                                                              \
    }

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)

/* Retry a syscall expression interrupted by a signal. */
#define RETRY_EINTR(expr)                                                                          \
    ({                                                                                             \
        __typeof__(expr) retry_r_;                                                                 \
        do                                                                                         \
            retry_r_ = (expr);                                                                     \
        while (retry_r_ < 0 && errno == EINTR);                                                    \
        retry_r_;                                                                                  \
    })

/* 1 in an AddressSanitizer build. ASan cannot follow a clone(CLONE_VM)
 * child onto a stack of its own (it warns on stderr, which the tests read,
 * and may report false errors): the two places that clone so fork instead
 * in such builds; the plain build's tests cover them. */
#if defined(__SANITIZE_ADDRESS__)
#define BERTH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BERTH_ASAN 1
#endif
#endif
#ifndef BERTH_ASAN
#define BERTH_ASAN 0
#endif

#endif

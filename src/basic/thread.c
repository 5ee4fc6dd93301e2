/* thread.c - see thread.h. */
#include "thread.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>

#include "alloc.h"

struct start {
    void *(*fn)(void *);
    void *arg;
    bool widen;
    cpu_set_t all; /* the process's affinity, for the thread to get back */
};

static void *trampoline(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    if (s.widen) {
        (void)sched_setaffinity(0, sizeof(s.all), &s.all);
    }
    return s.fn(s.arg);
}

int thread_start(pthread_t *ret, void *(*fn)(void *), void *arg)
{
    struct start *s = xmalloc(sizeof(*s));
    *s = (struct start){.fn = fn, .arg = arg};
    pthread_attr_t a;
    int r = pthread_attr_init(&a);
    if (r != 0) {
        free(s);
        return -r;
    }
    int cpu = sched_getcpu();
    if (cpu >= 0 && sched_getaffinity(0, sizeof(s->all), &s->all) == 0 && CPU_ISSET(cpu, &s->all) &&
        CPU_COUNT(&s->all) > 1) {
        cpu_set_t others = s->all;
        CPU_CLR(cpu, &others);
        s->widen = pthread_attr_setaffinity_np(&a, sizeof(others), &others) == 0;
    }
    r = pthread_create(ret, &a, trampoline, s);
    pthread_attr_destroy(&a);
    if (r != 0) {
        free(s);
        return -r;
    }
    return 0;
}

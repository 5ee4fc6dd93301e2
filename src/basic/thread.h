/* thread.h - starting a helper thread that runs beside its starter.
 *
 * Why: berth starts short helper threads on its critical path (the network
 * namespace, the cgroup, the runtime's delete, each a few hundred
 * microseconds of kernel work) so that they run on another CPU while the
 * caller goes on. Created plainly, the new thread was placed on the
 * caller's own CPU and preempted it at once: the caller then waited in the
 * run queue for the whole of the helper's system call while the other CPU
 * idled (measured: pthread_create "returning" after 0.5-0.7 ms, the time of
 * the helper's unshare(CLONE_NEWNET)). thread_start() creates the thread
 * with an affinity that excludes the caller's current CPU, and the thread
 * widens it back to the process's affinity as its first act, so it may
 * migrate later like any thread. On a single CPU (or when the affinity
 * cannot be set) it is a plain pthread_create.
 */
#ifndef BERTH_BASIC_THREAD_H
#define BERTH_BASIC_THREAD_H

#include <pthread.h>

/* 0 or -errno; the thread is joined with pthread_join() as usual. */
int thread_start(pthread_t *ret, void *(*fn)(void *), void *arg);

#endif

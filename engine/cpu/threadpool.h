/* threadpool.h: a small pool of persistent worker threads for the CPU backend.
 *
 * threadpool_run() splits a job into n_tasks independent tasks and returns
 * when every task has run. Threads claim tasks one at a time from a shared
 * counter, and the caller's thread works too. Completion counts tasks, not
 * threads: when a worker is descheduled (a busy desktop), the caller simply
 * runs the remaining tasks itself instead of waiting for that worker to wake.
 * Workers spin briefly between jobs, so the many short jobs of one decode
 * step cost microseconds rather than a futex wake each, then fall asleep.
 *
 * Thread-safety: a pool is driven by one thread at a time (the session's).
 */
#ifndef WENSHU_THREADPOOL_H
#define WENSHU_THREADPOOL_H

struct threadpool;

/* Run task number `task` of a job; ith (0 .. n_threads-1) names the thread,
 * for per-thread scratch. Tasks of one job may run in any order, in parallel. */
typedef void (*threadpool_task_fn)(void *ctx, int task, int ith);

/* Ownership: the caller owns the pool; free with threadpool_free(). NULL on failure. */
struct threadpool *threadpool_new(int n_threads);
void threadpool_free(struct threadpool **pool);

int threadpool_n_threads(const struct threadpool *pool);

/* Run fn for every task 0 .. n_tasks-1 and wait for all of them. */
void threadpool_run(struct threadpool *pool, threadpool_task_fn fn, void *ctx, int n_tasks);

/* The number of online CPUs (at least 1). */
int threadpool_default_threads(void);

#endif /* WENSHU_THREADPOOL_H */

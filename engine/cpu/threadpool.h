/* threadpool.h: a small pool of persistent worker threads for the CPU backend.
 *
 * threadpool_run() calls fn(ctx, ith, nth) once on each of nth threads (the
 * caller's thread is ith 0) and returns when all have finished. Workers spin
 * briefly between jobs, so the many short jobs of one decode step cost
 * microseconds rather than a futex wake each, then fall asleep.
 *
 * Thread-safety: a pool is driven by one thread at a time (the session's).
 */
#ifndef WENSHU_THREADPOOL_H
#define WENSHU_THREADPOOL_H

struct threadpool;

typedef void (*threadpool_fn)(void *ctx, int ith, int nth);

/* Ownership: the caller owns the pool; free with threadpool_free(). NULL on failure. */
struct threadpool *threadpool_new(int n_threads);
void threadpool_free(struct threadpool **pool);

int threadpool_n_threads(const struct threadpool *pool);

/* Run fn on every thread of the pool and wait for all of them. */
void threadpool_run(struct threadpool *pool, threadpool_fn fn, void *ctx);

/* The number of online CPUs (at least 1). */
int threadpool_default_threads(void);

#endif /* WENSHU_THREADPOOL_H */

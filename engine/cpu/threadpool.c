/* threadpool.c: persistent workers that claim tasks of a job.
 *
 * The tasks 0..n_tasks-1 of a job are split into one contiguous range per
 * thread. A thread runs its own range front to back, so each thread streams
 * through one contiguous stretch of weights (hardware prefetchers lose much
 * of their speed on interleaved 32 KiB pieces). When its range is empty it
 * steals tasks from the back of the other ranges, so a descheduled worker
 * never stalls a job: the others take its tasks.
 *
 * A range is one 64-bit word (front << 32 | back), claimed by
 * compare-and-swap. A claim only succeeds against the current state, and a
 * thread reads the job (fn, ctx) only after a successful claim, while the
 * job cannot finish; so a late worker can never run a stale task, and the
 * caller may return (and free the job's context) as soon as n_done reaches
 * n_tasks. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "threadpool.h"

/* Spin iterations before a worker sleeps (about 0.1-1 ms of pause). */
#define SPIN_LIMIT 20000
#define MAX_THREADS 64

/* A thread's range of tasks [front, back), alone on its cache line. */
struct task_range {
    _Alignas(64) atomic_uint_fast64_t bounds; /* front << 32 | back */
};

struct threadpool {
    int n_threads;
    pthread_t *threads;          /* [n_threads - 1] workers; ith 0 is the caller */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint generation;      /* bumped once per job */
    atomic_int n_sleeping;       /* workers blocked on `wake` */
    atomic_bool stop;
    /* The current job; written by the caller before the ranges are set. */
    threadpool_task_fn fn;
    void *ctx;
    struct task_range ranges[MAX_THREADS];
    _Alignas(64) atomic_int n_done;          /* tasks finished in this job */
};

struct worker_arg {
    struct threadpool *pool;
    int ith;
};

/* Take the front task of range r (own = true) or its back task (stealing).
 * Returns the task, or -1 when the range is empty. */
static int claim_task(struct task_range *r, bool own)
{
    uint64_t b = atomic_load_explicit(&r->bounds, memory_order_acquire);
    for (;;) {
        uint32_t front = (uint32_t)(b >> 32), back = (uint32_t)b;
        if (front >= back)
            return -1;
        uint64_t next = own ? b + (1ull << 32) : b - 1;
        if (atomic_compare_exchange_weak_explicit(&r->bounds, &b, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return (int)(own ? front : back - 1);
    }
}

static void run_task(struct threadpool *pool, int task, int ith)
{
    pool->fn(pool->ctx, task, ith);
    atomic_fetch_add_explicit(&pool->n_done, 1, memory_order_release);
}

/* Run this thread's own range, then steal from the others until all are empty. */
static void run_tasks(struct threadpool *pool, int ith)
{
    int task;
    while ((task = claim_task(&pool->ranges[ith], true)) >= 0)
        run_task(pool, task, ith);
    for (int k = 1; k < pool->n_threads; k++) {
        struct task_range *victim = &pool->ranges[(ith + k) % pool->n_threads];
        while ((task = claim_task(victim, false)) >= 0)
            run_task(pool, task, ith);
    }
}

static unsigned wait_for_job(struct threadpool *pool, unsigned seen)
{
    for (int i = 0; i < SPIN_LIMIT; i++) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&pool->stop, memory_order_relaxed))
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add(&pool->n_sleeping, 1);
    unsigned g;
    while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stop))
        pthread_cond_wait(&pool->wake, &pool->lock);
    atomic_fetch_sub(&pool->n_sleeping, 1);
    pthread_mutex_unlock(&pool->lock);
    return g;
}

static void *worker_main(void *p)
{
    struct worker_arg *arg = p;
    struct threadpool *pool = arg->pool;
    int ith = arg->ith;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load(&pool->stop))
            break;
        run_tasks(pool, ith);
    }
    return NULL;
}

int threadpool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

struct threadpool *threadpool_new(int n_threads)
{
    if (n_threads < 1)
        n_threads = threadpool_default_threads();
    if (n_threads > MAX_THREADS)
        n_threads = MAX_THREADS;
    struct threadpool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->threads = calloc((size_t)n_threads, sizeof *pool->threads);
    if (!pool->threads)
        goto out_free_pool;
    pool->n_threads = 1; /* threads started so far, for cleanup */
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *arg = malloc(sizeof *arg);
        if (!arg)
            goto out_stop;
        arg->pool = pool;
        arg->ith = i;
        if (pthread_create(&pool->threads[i - 1], NULL, worker_main, arg) != 0) {
            free(arg);
            goto out_stop;
        }
        pool->n_threads = i + 1;
    }
    return pool;

out_stop:
    threadpool_free(&pool);
    return NULL;
out_free_pool:
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
    return NULL;
}

void threadpool_free(struct threadpool **pool_ptr)
{
    struct threadpool *pool = pool_ptr ? *pool_ptr : NULL;
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stop, true);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->n_threads; i++)
        pthread_join(pool->threads[i - 1], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
    *pool_ptr = NULL;
}

int threadpool_n_threads(const struct threadpool *pool)
{
    return pool->n_threads;
}

void threadpool_run(struct threadpool *pool, threadpool_task_fn fn, void *ctx, int n_tasks)
{
    if (n_tasks <= 0)
        return;
    int nth = pool->n_threads;
    if (nth == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->n_done, 0, memory_order_relaxed);
    /* Publish the ranges (release: fn and ctx are visible to any claim). */
    for (int i = 0; i < nth; i++) {
        uint64_t front = (uint64_t)n_tasks * i / nth, back = (uint64_t)n_tasks * (i + 1) / nth;
        atomic_store_explicit(&pool->ranges[i].bounds, front << 32 | back, memory_order_release);
    }
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    run_tasks(pool, 0);
    while (atomic_load_explicit(&pool->n_done, memory_order_acquire) < n_tasks)
        cpu_relax();
}

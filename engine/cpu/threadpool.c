/* threadpool.c: persistent workers that spin, then sleep, between jobs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "threadpool.h"

/* Spin iterations before a worker sleeps (about 100-200 us of pause). */
#define SPIN_LIMIT 20000

struct threadpool {
    int n_threads;
    pthread_t *threads;        /* [n_threads - 1] workers; ith 0 is the caller */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint generation;    /* bumped once per job */
    atomic_int n_running;      /* workers still inside the current job */
    atomic_bool stop;
    threadpool_fn fn;
    void *ctx;
};

struct worker_arg {
    struct threadpool *pool;
    int ith;
};

static unsigned wait_for_job(struct threadpool *pool, unsigned seen)
{
    for (int i = 0; i < SPIN_LIMIT; i++) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen || atomic_load(&pool->stop))
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->lock);
    unsigned g;
    while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stop))
        pthread_cond_wait(&pool->wake, &pool->lock);
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
        pool->fn(pool->ctx, ith, pool->n_threads);
        atomic_fetch_sub_explicit(&pool->n_running, 1, memory_order_release);
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
    struct threadpool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->n_threads = n_threads;
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
    pool->n_threads = n_threads;
    return pool;

out_stop:
    threadpool_free(&pool);
    return NULL;
out_free_pool:
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
        if (pool->threads[i - 1])
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

void threadpool_run(struct threadpool *pool, threadpool_fn fn, void *ctx)
{
    if (pool->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->n_running, pool->n_threads - 1, memory_order_relaxed);
    /* Publish fn/ctx before the new generation: workers read them after it. */
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    fn(ctx, 0, pool->n_threads);
    while (atomic_load_explicit(&pool->n_running, memory_order_acquire) > 0)
        cpu_relax();
}

/* Every SIMD path of kernels/tmac/_lut.c against its scalar path, without Python: built natively (x86: AVX2,
 * AVX-512) or cross-compiled for aarch64 and run under qemu (NEON), by tests/kernels/test_tmac_harness.py. The
 * scalar path itself is held bit-exact against the numpy reference by tests/kernels/test_tmac.py, so agreeing with
 * it here carries that over to a path this machine cannot run natively. Also holds the thread pool to running
 * every unit of a job once, whatever the threads, grain and timing. Prints "ok N" or the first mismatch. */
#define TMAC_STANDALONE 1
#include "../../kernels/tmac/_lut.c"
#include <time.h>

static uint32_t state = 12345u;
static uint32_t next_random(void) { state = state * 1664525u + 1013904223u; return state >> 8; }

static int check(int isa, int bits, int has_min, int zero, int64_t block, int64_t n_tiles, int64_t k, int64_t m) {
    const int rows = tile_rows(bits);
    const int64_t n = n_tiles * rows, n_chunks = k / CHUNK, rec = rows * 2 * (1 + has_min) + block / GROUP * 64;
    const int64_t wbytes = n_tiles * (k / block) * rec;
    uint8_t *w = malloc((size_t)wbytes);
    for (int64_t i = 0; i < wbytes; i++) w[i] = (uint8_t)next_random();
    for (int64_t r = 0; r < n_tiles * (k / block); r++) /* finite fp16 scales and mins: 2^-9 .. 2^-3, either sign */
        for (int i = 0; i < rows * (1 + has_min); i++) {
            const uint16_t h = (uint16_t)(0x1800 + next_random() % 0x1800) | (uint16_t)((next_random() & 1) << 15);
            memcpy(w + r * rec + 2 * i, &h, 2);
        }
    float *x = malloc((size_t)(m * k) * 4);
    for (int64_t i = 0; i < m * k; i++) x[i] = ((float)(next_random() % 20001) - 10000.0f) / 3000.0f;
    int8_t *tq = malloc((size_t)(m * k / GROUP * TABLE));
    float *sc = malloc((size_t)(m * n_chunks) * 4), *xs = malloc((size_t)(m * n_chunks) * 4);
    int32_t *c15 = malloc((size_t)(m * n_chunks) * 4);
    for (int64_t i = 0; i < m; i++)
        build_tables_one(x + i * k, k, tq + i * k / GROUP * TABLE, sc + i * n_chunks, c15 + i * n_chunks,
                         xs + i * n_chunks);
    float *y[2] = {malloc((size_t)(m * n) * 4), malloc((size_t)(m * n) * 4)};
    int32_t *ints[2] = {malloc((size_t)(m * n * n_chunks) * 4), malloc((size_t)(m * n * n_chunks) * 4)};
    for (int pass = 0; pass < 2; pass++) {
        Problem P;
        memset(&P, 0, sizeof P);
        P.w = w; P.bits = bits; P.has_min = has_min; P.zero = zero; P.n_tiles = n_tiles; P.k = k; P.block = block;
        P.tile_bytes_per_block = rec; P.tables = tq; P.scales = sc; P.c15 = c15; P.xsum = xs; P.m = m;
        P.y = y[pass]; P.ints = ints[pass]; P.isa = pass == 0 ? ISA_SCALAR : isa;
        run_range(&P, 0, n_tiles);
    }
    int bad = 0;
    for (int64_t i = 0; i < m * n * n_chunks && !bad; i++)
        if (ints[0][i] != ints[1][i]) {
            printf("%s bits=%d min=%d zero=%d block=%lld: int %lld differs: %d vs %d\n", ISA_NAMES[isa], bits, has_min,
                   zero, (long long)block, (long long)i, ints[0][i], ints[1][i]);
            bad = 1;
        }
    for (int64_t i = 0; i < m * n && !bad; i++) {
        const float a = y[0][i], b = y[1][i], tol = 1e-4f * (fabsf(a) + 1.0f);
        if (!(fabsf(a - b) <= tol)) {
            printf("%s bits=%d: y %lld differs: %g vs %g\n", ISA_NAMES[isa], bits, (long long)i, a, b);
            bad = 1;
        }
    }
    free(w); free(x); free(tq); free(sc); free(xs); free(c15);
    free(y[0]); free(y[1]); free(ints[0]); free(ints[1]);
    return bad;
}

/* ------------------------------------------------------------------------------------- the thread pool */
/* Each unit of a job bumps its own counter and records whether a worker (not the caller) ran it. */
typedef struct {
    int *hits;
    int *by_worker;
    int slow_unit;  /* this unit sleeps 2 ms (a worker that lost its core), -1: none */
    int unit_us;    /* busy work per unit */
} PoolProbe;

static tmac_thread caller_thread;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void probe_units(const void *ctx, int64_t u0, int64_t u1) {
    const PoolProbe *P = (const PoolProbe *)ctx;
    for (int64_t u = u0; u < u1; u++) {
        __atomic_add_fetch(&P->hits[u], 1, __ATOMIC_RELAXED);
        if (!pthread_equal(pthread_self(), caller_thread)) P->by_worker[u] = 1;
        if (u == P->slow_unit) {
            const struct timespec ms2 = {0, 2000000};
            nanosleep(&ms2, NULL);
        }
        const int64_t until = now_ns() + 1000 * (int64_t)P->unit_us;
        while (now_ns() < until) continue;
    }
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Every unit runs exactly once over many jobs of every size and grain, back to back (workers still busy with the
 * last job's claims) and after a pause (all asleep); the workers take part; an idle pool burns no CPU. 0 if so. */
static int check_pool(void) {
    enum { MAXU = 300 };
    int hits[MAXU], by_worker[MAXU], helped = 0;
    caller_thread = pthread_self();
    for (int job = 0; job < 400; job++) {
        const int units = 1 + (int)(next_random() % MAXU), threads = 1 + job % 4;
        PoolProbe P = {hits, by_worker, job % 7 == 0 ? (int)(next_random() % units) : -1, job % 3 == 0 ? 20 : 0};
        memset(hits, 0, sizeof hits);
        memset(by_worker, 0, sizeof by_worker);
        const Job J = {probe_units, &P, units, job % 5 == 0 ? 0 : 1 + (int64_t)(next_random() % 9)};
        pool_run_job(&J, threads);
        for (int u = 0; u < units; u++) {
            if (hits[u] != 1) {
                printf("pool: job %d (%d units, %d threads): unit %d ran %d times\n", job, units, threads, u, hits[u]);
                return 1;
            }
            helped += by_worker[u];
        }
        if (job % 10 == 9) {  /* a pause: the workers are surely asleep and must be woken */
            const struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    if (!helped) {
        printf("pool: no unit of 400 jobs ran on a worker thread\n");
        return 1;
    }
    const double before = cpu_seconds();
    const struct timespec idle = {0, 200000000};
    nanosleep(&idle, NULL);
    const double spent = cpu_seconds() - before;
    if (spent > 0.02) {  /* the workers sleep: nothing should run at all */
        printf("pool: %.1f ms of CPU in 200 ms idle: the workers busy-wait\n", spent * 1000);
        return 1;
    }
    return 0;
}

int main(void) {
    int runs = 0;
    if (check_pool()) return 1;
    for (int isa = ISA_AVX2; isa <= ISA_NEON; isa++) {
        if (!isa_supported(isa)) continue;
        const int bits_of[3] = {1, 2, 4};
        for (int b = 0; b < 3; b++)
            for (int has_min = 0; has_min < 2; has_min++) {
                const int bits = bits_of[b], zero = has_min ? 0 : (1 << bits) / 2;
                if (check(isa, bits, has_min, zero, 32, 3, 256, 2) || check(isa, bits, has_min, zero, 256, 2, 512, 1))
                    return 1;
                runs += 2;
            }
    }
    printf("ok %d\n", runs);
    return 0;
}

/* T-MAC lookup-table GEMV/GEMM for 1-, 2- and 4-bit weights (ternary is 2-bit with zero 1), as a CPython module.
 *
 * Why a table: a group of g = 4 weights with one bit each picks one of 16 partial sums of the 4 matching
 * activations. Those 16 sums are built once per activation vector; a b-bit weight is b one-bit planes, so a dot
 * product is b table lookups per 4 weights, shifted and added -- no multiplies, and the lookup is one vpshufb /
 * NEON tbl on 16 int8 entries once the tables are quantized to int8 (one fp32 scale per 32 activations).
 *
 * Layout (kernels/tmac/layout.py writes it, the numpy reference reads it the same way): rows come in tiles of
 * TILE = 32 / bits rows (8 for 4-bit, 16 for 2-bit, 32 for 1-bit). Per tile and per scale block of `block` weights:
 *   TILE fp16 scales d, then (if has_min) TILE fp16 mins m, then block / 4 groups of 16 bytes each.
 * The 16 bytes of one group hold 32 nibbles, each the 4-bit table index of one (row, bit plane); see nib_pos().
 * The value of a row over one 32-weight chunk c is, exactly in integers,
 *   R = sum_planes 2^p * sum_groups Tq[group][index] - zero * sum_groups Tq[group][15]
 * and the output is y = sum_c d * s_c * R_c (+ m * xsum_c): integer accumulation, fp32 scale at the end.
 *
 * ISA paths: scalar (always), AVX2 (+FMA, F16C) and AVX-512BW on x86-64, picked at run time by cpuid; NEON on
 * aarch64 (AVX2 is the x86 default, see best_isa()). EDGEMIND_TMAC_ISA=scalar|avx2|avx512|neon forces one (tests use it
 * to cover every path). Threads: a
 * persistent pool whose threads claim a job's units from an atomic cursor and sleep on a condition variable once
 * idle (pthreads on POSIX, Win32 elsewhere; see "thread pool" below).
 */
#ifndef TMAC_STANDALONE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define TMAC_ERROR(...) PyErr_Format(PyExc_ValueError, __VA_ARGS__)
#else /* compiled into tests/kernels/tmac_harness.c (no Python: cross-compiled and run under qemu) */
#include <stdio.h>
#define TMAC_ERROR(...) fprintf(stderr, __VA_ARGS__)
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define TMAC_X86 1
#include <immintrin.h>
#if defined(_MSC_VER)
#include <intrin.h>
#define TMAC_TARGET(x)
#else
#include <cpuid.h>
#define TMAC_TARGET(x) __attribute__((target(x)))
#endif
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define TMAC_NEON 1
#include <arm_neon.h>
#endif

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

#define CHUNK 32   /* activations per table scale */
#define GROUP 4    /* weights per table index */
#define TABLE 16   /* entries per group table */

enum { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_NEON = 3 };
static const char *ISA_NAMES[] = {"scalar", "avx2", "avx512", "neon"};

/* ------------------------------------------------------------------------------------------------ fp16 */

static float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* --------------------------------------------------------------------------------------- the problem */

typedef struct {
    const uint8_t *w;      /* packed tiles */
    int bits, has_min, zero;
    int64_t n_tiles, k, block;
    int64_t tile_bytes_per_block; /* scales (+mins) + groups */
    const int8_t *tables;  /* [m][k/4][16] */
    const float *scales;   /* [m][k/32] */
    const int32_t *c15;    /* [m][k/32] */
    const float *xsum;     /* [m][k/32] */
    int64_t m;
    float *y;              /* [m][n] */
    int32_t *ints;         /* NULL or [m][n][k/32] */
    int isa;
} Problem;

/* Rows per tile: one group of a tile is 64 bytes, 4 lanes of 16 (one SIMD lane each), 128 nibbles = rows x planes. */
static int tile_rows(int bits) { return 128 / bits; }
#define GROUP_BYTES 64

/* Where (row r of a tile, plane p) sits among a group's 128 nibbles: byte index (0-63) and high (1) or low (0)
 * nibble. Lane l of the 64 bytes holds rows 8l..8l+7 of each 32-row slice, so the int16 a lane's multiply-add
 * yields is in row order and no lane is ever reduced into another:
 *   4-bit (32 rows): planes 0,1 in the low nibbles of bytes 2s, 2s+1 of lane r/8 (s = r % 8), planes 2,3 in their
 *     high nibbles -- one maddubs with multipliers (1,2) and one with (4,8) sum a row's four lookups into one int16;
 *   2-bit (64 rows): rows 0-31 in low nibbles (bytes 2s, 2s+1 = planes 0, 1), rows 32-63 in high ones;
 *   1-bit (128 rows): rows 0-31 in the low nibbles of even bytes, 32-63 of odd bytes, 64-127 likewise in the high
 *     nibbles (even/odd bytes of an int16 are split apart by shifts). */
static void nib_pos(int bits, int r, int p, int *byte, int *high) {
    if (bits == 4) { *byte = (r >> 3) * 16 + 2 * (r & 7) + (p & 1); *high = p >> 1; }
    else if (bits == 2) { const int i = r & 31; *byte = (i >> 3) * 16 + 2 * (i & 7) + p; *high = r >> 5; }
    else { const int i = r & 31; *byte = (i >> 3) * 16 + 2 * (i & 7) + ((r >> 5) & 1); *high = r >> 6; }
}

/* One (tile, block) record: scales, (mins,) then the groups. */
static const uint8_t *record(const Problem *P, int64_t t, int64_t blk) {
    return P->w + (t * (P->k / P->block) + blk) * P->tile_bytes_per_block;
}

/* ------------------------------------------------------------------------------------------ scalar */

static void tile_scalar(const Problem *P, int64_t t, int64_t mi) {
    const int rows = tile_rows(P->bits);
    const int64_t n_chunks = P->k / CHUNK, n = P->n_tiles * rows, chunks_per_block = P->block / CHUNK;
    const int8_t *tab = P->tables + mi * (P->k / GROUP) * TABLE;
    float acc[128] = {0};
    int pos_byte[128][4], pos_high[128][4];
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < P->bits; p++) nib_pos(P->bits, r, p, &pos_byte[r][p], &pos_high[r][p]);
    /* blk = c / chunks_per_block and cc = c % chunks_per_block, kept without dividing */
    for (int64_t c = 0, blk = 0, cc = 0; c < n_chunks;
         c++, cc = (cc + 1 == chunks_per_block) ? 0 : cc + 1, blk += (cc == 0)) {
        const uint8_t *rec = record(P, t, blk);
        const uint16_t *d16 = (const uint16_t *)rec;
        const uint8_t *groups = rec + rows * 2 * (1 + P->has_min) + cc * (CHUNK / GROUP) * GROUP_BYTES;
        const float s = P->scales[mi * n_chunks + c];
        const int32_t z15 = P->zero * P->c15[mi * n_chunks + c];
        for (int r = 0; r < rows; r++) {
            int32_t R = 0;
            for (int j = 0; j < CHUNK / GROUP; j++) {
                const int8_t *T = tab + (c * (CHUNK / GROUP) + j) * TABLE;
                const uint8_t *g = groups + j * GROUP_BYTES;
                for (int p = 0; p < P->bits; p++) {
                    const uint8_t b = g[pos_byte[r][p]];
                    R += (int32_t)T[pos_high[r][p] ? (b >> 4) : (b & 15)] * (1 << p);
                }
            }
            R -= z15;
            if (P->ints) P->ints[(mi * n + t * rows + r) * n_chunks + c] = R;
            uint16_t h;
            memcpy(&h, d16 + r, 2);
            acc[r] += fp16_to_fp32(h) * s * (float)R;
            if (P->has_min) {
                memcpy(&h, d16 + rows + r, 2);
                acc[r] += fp16_to_fp32(h) * P->xsum[mi * n_chunks + c];
            }
        }
    }
    for (int r = 0; r < rows; r++) P->y[mi * n + t * rows + r] = acc[r];
}

/* Store int32 chunk values of `count` consecutive rows from a SIMD register spilled to `vals` (tests only). */
static void store_ints(const Problem *P, const int32_t *vals, int count, int64_t mi, int64_t t, int row0,
                       int64_t c) {
    const int64_t n_chunks = P->k / CHUNK, n = P->n_tiles * tile_rows(P->bits);
    for (int r = 0; r < count; r++) P->ints[(mi * n + t * tile_rows(P->bits) + row0 + r) * n_chunks + c] = vals[r];
}

/* ------------------------------------------------------------------------------------------- AVX2 */
#ifdef TMAC_X86

/* int16 sums of rows row0..row0+15 (in order) -> acc[row0/8], acc[row0/8 + 1] += d * s * (R - zero*c15) (+ m*xsum) */
TMAC_TARGET("avx2,fma,f16c")
static inline void finish16_avx2(const Problem *P, __m256i a, int row0, const uint16_t *d16, float s, float xs,
                                 __m256i z15, __m256 *acc, int64_t mi, int64_t t, int64_t c) {
    const int rows = tile_rows(P->bits);
    const __m256 sv = _mm256_set1_ps(s);
    for (int h = 0; h < 2; h++) {
        const __m128i part = h ? _mm256_extracti128_si256(a, 1) : _mm256_castsi256_si128(a);
        const __m256i R = _mm256_sub_epi32(_mm256_cvtepi16_epi32(part), z15);
        const int r0 = row0 + 8 * h;
        if (P->ints) {
            int32_t tmp[8];
            _mm256_storeu_si256((__m256i *)tmp, R);
            store_ints(P, tmp, 8, mi, t, r0, c);
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(d16 + r0)));
        __m256 v = _mm256_fmadd_ps(_mm256_mul_ps(d, sv), _mm256_cvtepi32_ps(R), acc[r0 / 8]);
        if (P->has_min)
            v = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(d16 + rows + r0))),
                                _mm256_set1_ps(xs), v);
        acc[r0 / 8] = v;
    }
}

TMAC_TARGET("avx2,fma,f16c")
static inline void tile_avx2_bits(const Problem *P, int64_t t, int64_t mi, const int bits) {
    const int rows = tile_rows(bits), n_acc = bits == 4 ? 1 : bits == 2 ? 2 : 4;
    const int64_t n_chunks = P->k / CHUNK, n = P->n_tiles * rows, chunks_per_block = P->block / CHUNK;
    const int8_t *tab = P->tables + mi * (P->k / GROUP) * TABLE;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i w12 = _mm256_set1_epi16(0x0201), w48 = _mm256_set1_epi16(0x0804);
    __m256 acc[16];
    for (int i = 0; i < rows / 8; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t c = 0, blk = 0, cc = 0; c < n_chunks;
         c++, cc = (cc + 1 == chunks_per_block) ? 0 : cc + 1, blk += (cc == 0)) {
        const uint8_t *rec = record(P, t, blk);
        const uint16_t *d16 = (const uint16_t *)rec;
        const uint8_t *g = rec + rows * 2 * (1 + P->has_min) + cc * (CHUNK / GROUP) * GROUP_BYTES;
        const int8_t *T = tab + c * (CHUNK / GROUP) * TABLE;
        __m256i a[2][4]; /* [half of the 64 bytes][32-row slice] */
        for (int h = 0; h < 2; h++)
            for (int q = 0; q < n_acc; q++) a[h][q] = _mm256_setzero_si256();
        for (int j = 0; j < CHUNK / GROUP; j++) {
            const __m256i tv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(T + j * TABLE)));
            for (int h = 0; h < 2; h++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(g + j * GROUP_BYTES + 32 * h));
                const __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
                const __m256i la = _mm256_shuffle_epi8(tv, lo), lb = _mm256_shuffle_epi8(tv, hi);
                if (bits == 4) {
                    a[h][0] = _mm256_add_epi16(a[h][0], _mm256_add_epi16(_mm256_maddubs_epi16(w12, la),
                                                                         _mm256_maddubs_epi16(w48, lb)));
                } else if (bits == 2) {
                    a[h][0] = _mm256_add_epi16(a[h][0], _mm256_maddubs_epi16(w12, la));
                    a[h][1] = _mm256_add_epi16(a[h][1], _mm256_maddubs_epi16(w12, lb));
                } else {
                    a[h][0] = _mm256_add_epi16(a[h][0], _mm256_srai_epi16(_mm256_slli_epi16(la, 8), 8));
                    a[h][1] = _mm256_add_epi16(a[h][1], _mm256_srai_epi16(la, 8));
                    a[h][2] = _mm256_add_epi16(a[h][2], _mm256_srai_epi16(_mm256_slli_epi16(lb, 8), 8));
                    a[h][3] = _mm256_add_epi16(a[h][3], _mm256_srai_epi16(lb, 8));
                }
            }
        }
        const float s = P->scales[mi * n_chunks + c], xs = P->has_min ? P->xsum[mi * n_chunks + c] : 0.0f;
        const __m256i z15 = _mm256_set1_epi32(P->zero * P->c15[mi * n_chunks + c]);
        for (int q = 0; q < n_acc; q++)
            for (int h = 0; h < 2; h++) finish16_avx2(P, a[h][q], 32 * q + 16 * h, d16, s, xs, z15, acc, mi, t, c);
    }
    for (int i = 0; i < rows / 8; i++) _mm256_storeu_ps(P->y + mi * n + t * rows + 8 * i, acc[i]);
}

TMAC_TARGET("avx2,fma,f16c")
static void tile_avx2(const Problem *P, int64_t t, int64_t mi) {
    if (P->bits == 4) tile_avx2_bits(P, t, mi, 4);
    else if (P->bits == 2) tile_avx2_bits(P, t, mi, 2);
    else tile_avx2_bits(P, t, mi, 1);
}

/* ----------------------------------------------------------------------------------------- AVX-512 */

TMAC_TARGET("avx512f,avx512bw,avx2,fma,f16c")
static inline void finish32_avx512(const Problem *P, __m512i a, int row0, const uint16_t *d16, float s, float xs,
                                   __m512i z15, __m512 *acc, int64_t mi, int64_t t, int64_t c) {
    const int rows = tile_rows(P->bits);
    const __m512 sv = _mm512_set1_ps(s);
    for (int h = 0; h < 2; h++) {
        const __m256i part = h ? _mm512_extracti64x4_epi64(a, 1) : _mm512_castsi512_si256(a);
        const __m512i R = _mm512_sub_epi32(_mm512_cvtepi16_epi32(part), z15);
        const int r0 = row0 + 16 * h;
        if (P->ints) {
            int32_t tmp[16];
            _mm512_storeu_si512((void *)tmp, R);
            store_ints(P, tmp, 16, mi, t, r0, c);
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d16 + r0)));
        __m512 v = _mm512_fmadd_ps(_mm512_mul_ps(d, sv), _mm512_cvtepi32_ps(R), acc[r0 / 16]);
        if (P->has_min)
            v = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d16 + rows + r0))),
                                _mm512_set1_ps(xs), v);
        acc[r0 / 16] = v;
    }
}

TMAC_TARGET("avx512f,avx512bw,avx2,fma,f16c")
static inline void tile_avx512_bits(const Problem *P, int64_t t, int64_t mi, const int bits) {
    const int rows = tile_rows(bits), n_acc = bits == 4 ? 1 : bits == 2 ? 2 : 4;
    const int64_t n_chunks = P->k / CHUNK, n = P->n_tiles * rows, chunks_per_block = P->block / CHUNK;
    const int8_t *tab = P->tables + mi * (P->k / GROUP) * TABLE;
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i w12 = _mm512_set1_epi16(0x0201), w48 = _mm512_set1_epi16(0x0804);
    __m512 acc[8];
    for (int i = 0; i < rows / 16; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t c = 0, blk = 0, cc = 0; c < n_chunks;
         c++, cc = (cc + 1 == chunks_per_block) ? 0 : cc + 1, blk += (cc == 0)) {
        const uint8_t *rec = record(P, t, blk);
        const uint16_t *d16 = (const uint16_t *)rec;
        const uint8_t *g = rec + rows * 2 * (1 + P->has_min) + cc * (CHUNK / GROUP) * GROUP_BYTES;
        const int8_t *T = tab + c * (CHUNK / GROUP) * TABLE;
        __m512i a[4];
        for (int q = 0; q < n_acc; q++) a[q] = _mm512_setzero_si512();
        for (int j = 0; j < CHUNK / GROUP; j++) {
            const __m512i tv = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(T + j * TABLE)));
            const __m512i v = _mm512_loadu_si512((const void *)(g + j * GROUP_BYTES));
            const __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
            const __m512i la = _mm512_shuffle_epi8(tv, lo), lb = _mm512_shuffle_epi8(tv, hi);
            if (bits == 4) {
                a[0] = _mm512_add_epi16(a[0], _mm512_add_epi16(_mm512_maddubs_epi16(w12, la),
                                                               _mm512_maddubs_epi16(w48, lb)));
            } else if (bits == 2) {
                a[0] = _mm512_add_epi16(a[0], _mm512_maddubs_epi16(w12, la));
                a[1] = _mm512_add_epi16(a[1], _mm512_maddubs_epi16(w12, lb));
            } else {
                a[0] = _mm512_add_epi16(a[0], _mm512_srai_epi16(_mm512_slli_epi16(la, 8), 8));
                a[1] = _mm512_add_epi16(a[1], _mm512_srai_epi16(la, 8));
                a[2] = _mm512_add_epi16(a[2], _mm512_srai_epi16(_mm512_slli_epi16(lb, 8), 8));
                a[3] = _mm512_add_epi16(a[3], _mm512_srai_epi16(lb, 8));
            }
        }
        const float s = P->scales[mi * n_chunks + c], xs = P->has_min ? P->xsum[mi * n_chunks + c] : 0.0f;
        const __m512i z15 = _mm512_set1_epi32(P->zero * P->c15[mi * n_chunks + c]);
        for (int q = 0; q < n_acc; q++) finish32_avx512(P, a[q], 32 * q, d16, s, xs, z15, acc, mi, t, c);
    }
    for (int i = 0; i < rows / 16; i++) _mm512_storeu_ps(P->y + mi * n + t * rows + 16 * i, acc[i]);
}

TMAC_TARGET("avx512f,avx512bw,avx2,fma,f16c")
static void tile_avx512(const Problem *P, int64_t t, int64_t mi) {
    if (P->bits == 4) tile_avx512_bits(P, t, mi, 4);
    else if (P->bits == 2) tile_avx512_bits(P, t, mi, 2);
    else tile_avx512_bits(P, t, mi, 1);
}

static int cpu_has_avx2(void) {
#if defined(_MSC_VER)
    int r[4];
    __cpuid(r, 1);
    const int osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1, f16c = (r[2] >> 29) & 1;
    if (!(osxsave && avx && fma && f16c)) return 0;
    if ((_xgetbv(0) & 6) != 6) return 0; /* the OS saves XMM and YMM state */
    __cpuidex(r, 7, 0);
    return (r[1] >> 5) & 1;
#else
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
}

/* AVX-512F+BW, and the OS saves the opmask and ZMM state (XCR0 bits 5-7) besides XMM/YMM (bits 1-2). */
static int cpu_has_avx512(void) {
    if (!cpu_has_avx2()) return 0;
#if defined(_MSC_VER)
    int r[4];
    __cpuidex(r, 7, 0);
    if (!(((r[1] >> 16) & 1) && ((r[1] >> 30) & 1))) return 0;
    return (_xgetbv(0) & 0xE6) == 0xE6;
#else
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(((b >> 16) & 1) && ((b >> 30) & 1))) return 0;
    __get_cpuid(1, &a, &b, &c, &d);
    if (!((c >> 27) & 1)) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6;
#endif
}
#endif /* TMAC_X86 */

/* --------------------------------------------------------------------------------------------- NEON */
#ifdef TMAC_NEON
/* Bytes (2s, 2s+1) of a 16-byte lookup vector as two int16x8 (no maddubs on NEON: split each int16 lane's halves
 * with arithmetic shifts). */
static inline int16x8_t even_bytes(int8x16_t v) { return vshrq_n_s16(vshlq_n_s16(vreinterpretq_s16_s8(v), 8), 8); }
static inline int16x8_t odd_bytes(int8x16_t v) { return vshrq_n_s16(vreinterpretq_s16_s8(v), 8); }

static void tile_neon(const Problem *P, int64_t t, int64_t mi) {
    const int bits = P->bits, rows = tile_rows(bits);
    const int64_t n_chunks = P->k / CHUNK, n = P->n_tiles * rows, chunks_per_block = P->block / CHUNK;
    const int8_t *tab = P->tables + mi * (P->k / GROUP) * TABLE;
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    float32x4_t acc[32];
    for (int i = 0; i < rows / 4; i++) acc[i] = vdupq_n_f32(0.0f);
    for (int64_t c = 0, blk = 0, cc = 0; c < n_chunks;
         c++, cc = (cc + 1 == chunks_per_block) ? 0 : cc + 1, blk += (cc == 0)) {
        const uint8_t *rec = record(P, t, blk);
        const uint16_t *d16 = (const uint16_t *)rec;
        const uint8_t *g = rec + rows * 2 * (1 + P->has_min) + cc * (CHUNK / GROUP) * GROUP_BYTES;
        const int8_t *T = tab + c * (CHUNK / GROUP) * TABLE;
        int16x8_t a[16]; /* rows 8i..8i+7 */
        for (int i = 0; i < rows / 8; i++) a[i] = vdupq_n_s16(0);
        for (int j = 0; j < CHUNK / GROUP; j++) {
            const int8x16_t tv = vld1q_s8(T + j * TABLE);
            for (int l = 0; l < 4; l++) {
                const uint8x16_t v = vld1q_u8(g + j * GROUP_BYTES + 16 * l);
                const int8x16_t la = vqtbl1q_s8(tv, vandq_u8(v, low4)), lb = vqtbl1q_s8(tv, vshrq_n_u8(v, 4));
                if (bits == 4) {
                    const int16x8_t sum = vaddq_s16(vaddq_s16(even_bytes(la), vshlq_n_s16(odd_bytes(la), 1)),
                                                    vaddq_s16(vshlq_n_s16(even_bytes(lb), 2),
                                                              vshlq_n_s16(odd_bytes(lb), 3)));
                    a[l] = vaddq_s16(a[l], sum);
                } else if (bits == 2) {
                    a[l] = vaddq_s16(a[l], vaddq_s16(even_bytes(la), vshlq_n_s16(odd_bytes(la), 1)));
                    a[4 + l] = vaddq_s16(a[4 + l], vaddq_s16(even_bytes(lb), vshlq_n_s16(odd_bytes(lb), 1)));
                } else {
                    a[l] = vaddq_s16(a[l], even_bytes(la));
                    a[4 + l] = vaddq_s16(a[4 + l], odd_bytes(la));
                    a[8 + l] = vaddq_s16(a[8 + l], even_bytes(lb));
                    a[12 + l] = vaddq_s16(a[12 + l], odd_bytes(lb));
                }
            }
        }
        const float s = P->scales[mi * n_chunks + c], xs = P->has_min ? P->xsum[mi * n_chunks + c] : 0.0f;
        const int32x4_t z15 = vdupq_n_s32(P->zero * P->c15[mi * n_chunks + c]);
        for (int i = 0; i < rows / 4; i++) {
            const int16x8_t part = a[i / 2];
            const int32x4_t R = vsubq_s32(vmovl_s16((i & 1) ? vget_high_s16(part) : vget_low_s16(part)), z15);
            if (P->ints) {
                int32_t tmp[4];
                vst1q_s32(tmp, R);
                store_ints(P, tmp, 4, mi, t, 4 * i, c);
            }
            const float32x4_t d = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(d16 + 4 * i)));
            float32x4_t v = vmlaq_f32(acc[i], vmulq_n_f32(d, s), vcvtq_f32_s32(R));
            if (P->has_min)
                v = vmlaq_n_f32(v, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(d16 + rows + 4 * i))), xs);
            acc[i] = v;
        }
    }
    for (int i = 0; i < rows / 4; i++) vst1q_f32(P->y + mi * n + t * rows + 4 * i, acc[i]);
}
#endif /* TMAC_NEON */

/* --------------------------------------------------------------------------------------------- dispatch */

static int isa_supported(int isa) {
    switch (isa) {
    case ISA_SCALAR: return 1;
#ifdef TMAC_X86
    case ISA_AVX2: return cpu_has_avx2();
    case ISA_AVX512: return cpu_has_avx512();
#endif
#ifdef TMAC_NEON
    case ISA_NEON: return 1;
#endif
    default: return 0;
    }
}

/* The default path. AVX2 before AVX-512: the 512-bit byte shuffle the lookups live on issues on one port where the
 * 256-bit one has two, and benchmarks/tmac_kernels.py measured the AVX2 path as fast or faster on our shapes
 * (EDGEMIND_TMAC_ISA=avx512 still picks it). */
static int best_isa(void) {
    static const int order[] = {ISA_NEON, ISA_AVX2, ISA_AVX512};
    for (int i = 0; i < 3; i++)
        if (isa_supported(order[i])) return order[i];
    return ISA_SCALAR;
}

/* The ISA a call runs: EDGEMIND_TMAC_ISA if set (an error if unknown or unsupported here), else the best. */
static int chosen_isa(void) {
    const char *forced = getenv("EDGEMIND_TMAC_ISA");
    if (!forced || !*forced) return best_isa();
    for (int isa = 0; isa < 4; isa++) {
        if (strcmp(forced, ISA_NAMES[isa]) == 0) {
            if (!isa_supported(isa)) {
                TMAC_ERROR("EDGEMIND_TMAC_ISA=%s: this CPU (or build) has no %s path", forced,
                             forced);
                return -1;
            }
            return isa;
        }
    }
    TMAC_ERROR("EDGEMIND_TMAC_ISA=%s is not one of scalar, avx2, avx512, neon", forced);
    return -1;
}

static void run_tile(const Problem *P, int64_t t, int64_t mi) {
    switch (P->isa) {
#ifdef TMAC_X86
    case ISA_AVX2: tile_avx2(P, t, mi); return;
    case ISA_AVX512: tile_avx512(P, t, mi); return;
#endif
#ifdef TMAC_NEON
    case ISA_NEON: tile_neon(P, t, mi); return;
#endif
    default: tile_scalar(P, t, mi); return;
    }
}

/* Rows [t0, t1) of tiles, every activation vector: the weights of a tile are read from memory once and reused
 * from cache for the other vectors (small-batch GEMM). */
static void run_range(const Problem *P, int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++)
        for (int64_t mi = 0; mi < P->m; mi++) run_tile(P, t, mi);
}

/* ------------------------------------------------------------------------------------------ thread pool */
/* A job is `units` independent pieces (tiles of a GEMM, rows of an int8 GEMV, heads of attention). The caller and
 * the workers claim them `grain` at a time from one atomic cursor until none are left, so a worker that is late
 * (still waking, or its core taken by another process: 2 shared cores) delays nothing: the caller does that part
 * itself and then waits only for pieces a worker has already claimed. A static split made every job as slow as its
 * slowest thread's wake-up (issue 22's inter-token jitter). Nobody spins: workers sleep on a condition variable
 * between jobs, and a caller left waiting for a claimed piece sleeps too. A bounded spin (0.02-0.1 ms, workers and
 * caller) was measured on SmolLM2 on the shared 2-core machine and made decode slower and the tail longer there
 * (a spinning thread takes the core the other needs); with claims, a worker's wake-up latency no longer stalls
 * the caller, which is what a spin would have bought. One job at a time (pool_call_lock). */

typedef void (*job_fn)(const void *ctx, int64_t u0, int64_t u1);
typedef struct {
    job_fn fn;
    const void *ctx;
    int64_t units;
    int64_t grain; /* units per claim; 0: about eight claims per thread */
} Job;

#define MAX_THREADS 64
#define UNIT_BITS 40        /* the cursor: job tag in the bits above, next unclaimed unit below */
#define TAG_MASK ((INT64_C(1) << (62 - UNIT_BITS)) - 1)

#if defined(_MSC_VER) && !defined(__clang__)
static int64_t load64(volatile int64_t *p) { return InterlockedCompareExchange64((volatile LONG64 *)p, 0, 0); }
static void store64(volatile int64_t *p, int64_t v) { InterlockedExchange64((volatile LONG64 *)p, v); }
static int cas64(volatile int64_t *p, int64_t expected, int64_t desired) {
    return InterlockedCompareExchange64((volatile LONG64 *)p, desired, expected) == expected;
}
static int64_t add64(volatile int64_t *p, int64_t v) { return InterlockedExchangeAdd64((volatile LONG64 *)p, v) + v; }
#else
static int64_t load64(volatile int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store64(volatile int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static int cas64(volatile int64_t *p, int64_t expected, int64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static int64_t add64(volatile int64_t *p, int64_t v) { return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL); }
#endif

#ifdef _WIN32
typedef CRITICAL_SECTION tmac_mutex;
typedef CONDITION_VARIABLE tmac_cond;
typedef HANDLE tmac_thread;
#define mutex_init(m) InitializeCriticalSection(m)
#define mutex_lock(m) EnterCriticalSection(m)
#define mutex_unlock(m) LeaveCriticalSection(m)
#define cond_init(c) InitializeConditionVariable(c)
#define cond_wait(c, m) SleepConditionVariableCS(c, m, INFINITE)
#define cond_broadcast(c) WakeAllConditionVariable(c)
#else
typedef pthread_mutex_t tmac_mutex;
typedef pthread_cond_t tmac_cond;
typedef pthread_t tmac_thread;
#define mutex_init(m) pthread_mutex_init(m, NULL)
#define mutex_lock(m) pthread_mutex_lock(m)
#define mutex_unlock(m) pthread_mutex_unlock(m)
#define cond_init(c) pthread_cond_init(c, NULL)
#define cond_wait(c, m) pthread_cond_wait(c, m)
#define cond_broadcast(c) pthread_cond_broadcast(c)
#endif

typedef struct {
    tmac_mutex lock;          /* guards job, helpers, caller_waiting, n_workers and generation's writes */
    tmac_cond wake, done;     /* idle workers wait on wake; a caller left waiting on done */
    int n_workers;            /* threads started besides the caller */
    int caller_waiting;       /* the caller waits on done */
    int helpers;              /* workers the current job may use: ids 1..helpers */
    Job job;                  /* the current job */
    volatile int64_t generation; /* bumped per job */
    volatile int64_t cursor;     /* (generation & TAG_MASK) << UNIT_BITS | the next unclaimed unit */
    volatile int64_t finished;   /* units of the current job done */
    tmac_thread threads[MAX_THREADS];
    int ids[MAX_THREADS];
} Pool;

static Pool pool;
static tmac_mutex pool_call_lock; /* one job at a time across Python threads */
static int pool_ready = 0;

static void pool_init(void) {
    memset(&pool, 0, sizeof pool);
    mutex_init(&pool.lock);
    mutex_init(&pool_call_lock);
    cond_init(&pool.wake);
    cond_init(&pool.done);
}

#ifndef _WIN32
/* A forked child has only the thread that forked: forget the parent's workers (and any lock state they held) so
 * the next call starts a fresh pool instead of waiting for threads that do not exist. */
static void pool_after_fork_in_child(void) { pool_init(); }
#endif

/* Claim the next `grain` units of the job tagged `tag`: 0 once none are left or that job is over. A claim that
 * succeeds proves the job still runs (its units are not all finished), so its ctx is still alive. A tag repeats
 * after 2^22 jobs: a worker would have to stall between reading a job and claiming for exactly that many. */
static int pool_claim(const Job *J, int64_t tag, int64_t *u0, int64_t *u1) {
    int64_t cur = load64(&pool.cursor);
    for (;;) {
        const int64_t next = cur & ((INT64_C(1) << UNIT_BITS) - 1);
        if ((cur >> UNIT_BITS) != tag || next >= J->units) return 0;
        const int64_t end = J->units - next > J->grain ? next + J->grain : J->units;
        if (cas64(&pool.cursor, cur, (tag << UNIT_BITS) | end)) {
            *u0 = next;
            *u1 = end;
            return 1;
        }
        cur = load64(&pool.cursor);
    }
}

/* Run claims of the job until none are left; the worker that finishes the job's last unit wakes a sleeping caller. */
static void pool_work(const Job *J, int64_t tag, int is_caller) {
    int64_t u0, u1;
    while (pool_claim(J, tag, &u0, &u1)) {
        J->fn(J->ctx, u0, u1);
        if (add64(&pool.finished, u1 - u0) == J->units && !is_caller) {
            mutex_lock(&pool.lock);
            if (pool.caller_waiting) cond_broadcast(&pool.done);
            mutex_unlock(&pool.lock);
        }
    }
}

#ifdef _WIN32
static DWORD WINAPI worker_main(LPVOID arg)
#else
static void *worker_main(void *arg)
#endif
{
    const int id = *(int *)arg; /* 1..n_workers */
    int64_t seen = 0;
    for (;;) {
        mutex_lock(&pool.lock);
        while (pool.generation == seen) cond_wait(&pool.wake, &pool.lock);
        seen = pool.generation;
        const Job J = pool.job;
        const int used = id <= pool.helpers;
        mutex_unlock(&pool.lock);
        if (used) pool_work(&J, seen & TAG_MASK, 0);
    }
#ifdef _WIN32
    return 0;
#else
    return NULL;
#endif
}

/* Start workers up to `want` (never stops them: a pool of idle sleeping threads costs nothing). */
static int pool_grow(int want) {
    if (want > MAX_THREADS - 1) want = MAX_THREADS - 1;
    while (pool.n_workers < want) {
        const int i = pool.n_workers;
        pool.ids[i] = i + 1;
#ifdef _WIN32
        pool.threads[i] = CreateThread(NULL, 0, worker_main, &pool.ids[i], 0, NULL);
        if (!pool.threads[i]) return -1;
#else
        if (pthread_create(&pool.threads[i], NULL, worker_main, &pool.ids[i]) != 0) return -1;
#endif
        pool.n_workers++;
    }
    return 0;
}

static int pool_run_job(const Job *job, int threads) {
    Job J = *job;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (J.grain <= 0) J.grain = J.units / (8 * (int64_t)(threads > 0 ? threads : 1));
    if (J.grain < 1) J.grain = 1;
    const int64_t claims = (J.units + J.grain - 1) / J.grain;
    if ((int64_t)threads > claims) threads = (int)(claims > 0 ? claims : 1);
    if (threads <= 1 || J.units >= (INT64_C(1) << UNIT_BITS)) { J.fn(J.ctx, 0, J.units); return 0; }
    mutex_lock(&pool_call_lock);
    mutex_lock(&pool.lock);
    if (pool_grow(threads - 1) != 0 && pool.n_workers < threads - 1) threads = pool.n_workers + 1;
    const int64_t generation = pool.generation + 1, tag = generation & TAG_MASK;
    pool.job = J;
    pool.helpers = threads - 1;
    store64(&pool.finished, 0);
    store64(&pool.cursor, tag << UNIT_BITS);
    store64(&pool.generation, generation);
    cond_broadcast(&pool.wake);
    mutex_unlock(&pool.lock);
    pool_work(&J, tag, 1);
    /* what is left was claimed by a worker that is running it now */
    mutex_lock(&pool.lock);
    while (load64(&pool.finished) < J.units) {
        pool.caller_waiting = 1;
        cond_wait(&pool.done, &pool.lock);
    }
    pool.caller_waiting = 0;
    mutex_unlock(&pool.lock);
    mutex_unlock(&pool_call_lock);
    return 0;
}

static void gemm_units(const void *ctx, int64_t t0, int64_t t1) { run_range((const Problem *)ctx, t0, t1); }

/* Tiles are claimed one at a time: a tile is 32-128 rows over all of k, already a good share of work. */
static int pool_run(const Problem *P, int threads) {
    const Job J = {gemm_units, P, P->n_tiles, 1};
    return pool_run_job(&J, threads);
}

/* ----------------------------------------------------------------------------------- activation tables */

/* Per 4 activations the 16 partial sums T[i] = sum of x[b] over the set bits b of i, built as T[i + 2^b] =
 * T[i] + x[b] (the numpy reference adds in the same order, so the fp32 values are identical); per 32 activations
 * one scale s = amax / 127 and Tq = rint(T * (127 / amax)); c15 = sum of Tq[15] (the zero-point term); xsum the
 * fp32 sum of the 32 activations (the mins term). */
static void build_tables_one(const float *x, int64_t k, int8_t *tq, float *scales, int32_t *c15, float *xsum) {
    float T[CHUNK / GROUP][TABLE];
    for (int64_t c = 0; c < k / CHUNK; c++) {
        const float *xc = x + c * CHUNK;
        float amax = 0.0f, sum = 0.0f;
        for (int j = 0; j < CHUNK / GROUP; j++) {
            T[j][0] = 0.0f;
            for (int b = 0; b < GROUP; b++)
                for (int i = 0; i < (1 << b); i++) T[j][i + (1 << b)] = T[j][i] + xc[j * GROUP + b];
            for (int i = 0; i < TABLE; i++) {
                const float a = fabsf(T[j][i]);
                if (a > amax) amax = a;
            }
        }
        for (int i = 0; i < CHUNK; i++) sum += xc[i];
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        int32_t total = 0;
        for (int j = 0; j < CHUNK / GROUP; j++)
            for (int i = 0; i < TABLE; i++) {
                const int8_t q = (int8_t)nearbyintf(T[j][i] * inv);
                tq[(c * (CHUNK / GROUP) + j) * TABLE + i] = q;
                if (i == 15) total += q;
            }
        scales[c] = amax / 127.0f;
        c15[c] = total;
        xsum[c] = sum;
    }
}

#ifdef TMAC_X86
/* The same tables, eight groups at a time (one per AVX lane): the same fp32 adds in the same order, max, multiply
 * and round-to-nearest-even as the scalar code, so the bytes are identical (the tests compare them). */
TMAC_TARGET("avx2,fma,f16c")
static void build_tables_one_avx2(const float *x, int64_t k, int8_t *tq, float *scales, int32_t *c15, float *xsum) {
    const __m256i stride = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t c = 0; c < k / CHUNK; c++) {
        const float *xc = x + c * CHUNK;
        __m256 T[TABLE];
        T[0] = _mm256_setzero_ps();
        for (int b = 0; b < GROUP; b++) {
            const __m256 xb = _mm256_i32gather_ps(xc + b, stride, 4); /* x[4j + b] for the 8 groups j */
            for (int i = 0; i < (1 << b); i++) T[i + (1 << b)] = _mm256_add_ps(T[i], xb);
        }
        __m256 mx = _mm256_setzero_ps();
        for (int i = 0; i < TABLE; i++) mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, T[i]));
        float lanes[8], amax = 0.0f, sum = 0.0f;
        _mm256_storeu_ps(lanes, mx);
        for (int j = 0; j < 8; j++) if (lanes[j] > amax) amax = lanes[j];
        for (int i = 0; i < CHUNK; i++) sum += xc[i];
        const __m256 inv = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        int32_t q[TABLE][8], total = 0;
        for (int i = 0; i < TABLE; i++)
            _mm256_storeu_si256((__m256i *)q[i], _mm256_cvtps_epi32(_mm256_round_ps(
                _mm256_mul_ps(T[i], inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
        for (int j = 0; j < CHUNK / GROUP; j++) {
            for (int i = 0; i < TABLE; i++) tq[(c * (CHUNK / GROUP) + j) * TABLE + i] = (int8_t)q[i][j];
            total += q[15][j];
        }
        scales[c] = amax / 127.0f;
        c15[c] = total;
        xsum[c] = sum;
    }
}
#endif

/* --------------------------------------------------------------------------------------- Python edge */
#ifndef TMAC_STANDALONE

typedef struct {
    Py_buffer views[8];
    int count;
} Views;

static void release(Views *v) {
    for (int i = 0; i < v->count; i++) PyBuffer_Release(&v->views[i]);
    v->count = 0;
}

/* A contiguous buffer of at least `need` bytes (writable if asked), or NULL with a one-line error. */
static void *view(Views *v, PyObject *obj, Py_ssize_t need, int writable, const char *what) {
    if (obj == Py_None) return NULL;
    Py_buffer *b = &v->views[v->count];
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) != 0) return NULL;
    v->count++;
    if (b->len != need) {
        PyErr_Format(PyExc_ValueError, "%s has %zd bytes, expected %zd", what, b->len, need);
        return NULL;
    }
    return b->buf;
}

static PyObject *py_build_tables(PyObject *self, PyObject *args) {
    PyObject *xo, *tqo, *so, *co, *xso;
    Py_ssize_t m, k;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnnOOOO", &xo, &m, &k, &tqo, &so, &co, &xso)) return NULL;
    if (m < 1 || k < CHUNK || k % CHUNK) {
        PyErr_Format(PyExc_ValueError, "tables need m >= 1 and k a positive multiple of %d (got m=%zd, k=%zd)", CHUNK,
                     m, k);
        return NULL;
    }
    Views v = {.count = 0};
    const float *x = view(&v, xo, m * k * 4, 0, "x");
    int8_t *tq = x ? view(&v, tqo, m * k / GROUP * TABLE, 1, "tables") : NULL;
    float *sc = tq ? view(&v, so, m * k / CHUNK * 4, 1, "scales") : NULL;
    int32_t *c15 = sc ? view(&v, co, m * k / CHUNK * 4, 1, "c15") : NULL;
    float *xs = c15 ? view(&v, xso, m * k / CHUNK * 4, 1, "xsum") : NULL;
    if (!xs) { release(&v); return NULL; }
    const int isa = chosen_isa();
    if (isa < 0) { release(&v); return NULL; }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < m; i++) {
#ifdef TMAC_X86
        if (isa == ISA_AVX2 || isa == ISA_AVX512) {
            build_tables_one_avx2(x + i * k, k, tq + i * k / GROUP * TABLE, sc + i * k / CHUNK, c15 + i * k / CHUNK,
                                  xs + i * k / CHUNK);
            continue;
        }
#endif
        build_tables_one(x + i * k, k, tq + i * k / GROUP * TABLE, sc + i * k / CHUNK, c15 + i * k / CHUNK,
                         xs + i * k / CHUNK);
    }
    Py_END_ALLOW_THREADS
    release(&v);
    Py_RETURN_NONE;
}

/* gemm(weights, bits, block, zero, has_min, n, k, tables, scales, c15, xsum, m, y, ints_or_None, threads) */
static PyObject *py_gemm(PyObject *self, PyObject *args) {
    PyObject *wo, *tqo, *so, *co, *xso, *yo, *io;
    int bits, zero, has_min, threads;
    Py_ssize_t block, n, k, m;
    (void)self;
    if (!PyArg_ParseTuple(args, "OinipnnOOOOnOOi", &wo, &bits, &block, &zero, &has_min, &n, &k, &tqo, &so, &co, &xso,
                          &m, &yo, &io, &threads))
        return NULL;
    if (bits != 1 && bits != 2 && bits != 4) {
        PyErr_Format(PyExc_ValueError, "bits must be 1, 2 or 4, got %d", bits);
        return NULL;
    }
    const int rows = tile_rows(bits);
    if (block < CHUNK || block % CHUNK || k % block || n < rows || n % rows || m < 1 || threads < 1 || zero < 0 ||
        zero > 15) {
        PyErr_Format(PyExc_ValueError,
                     "bad shape: need block a multiple of %d dividing k, n a multiple of %d, m >= 1, threads >= 1, "
                     "0 <= zero <= 15 (got block=%zd n=%zd k=%zd m=%zd threads=%d zero=%d)",
                     CHUNK, rows, block, n, k, m, threads, zero);
        return NULL;
    }
    const int isa = chosen_isa();
    if (isa < 0) return NULL;
    Problem P;
    memset(&P, 0, sizeof P);
    P.bits = bits;
    P.has_min = has_min;
    P.zero = zero;
    P.n_tiles = n / rows;
    P.k = k;
    P.block = block;
    P.m = m;
    P.isa = isa;
    P.tile_bytes_per_block = rows * 2 * (1 + has_min) + (block / GROUP) * GROUP_BYTES;
    Views v = {.count = 0};
    P.w = view(&v, wo, P.n_tiles * (k / block) * P.tile_bytes_per_block, 0, "weights");
    P.tables = P.w ? view(&v, tqo, m * k / GROUP * TABLE, 0, "tables") : NULL;
    P.scales = P.tables ? view(&v, so, m * k / CHUNK * 4, 0, "scales") : NULL;
    P.c15 = P.scales ? view(&v, co, m * k / CHUNK * 4, 0, "c15") : NULL;
    P.xsum = P.c15 ? view(&v, xso, m * k / CHUNK * 4, 0, "xsum") : NULL;
    P.y = P.xsum ? view(&v, yo, m * n * 4, 1, "y") : NULL;
    if (!P.y) { release(&v); return NULL; }
    if (io != Py_None) {
        P.ints = view(&v, io, m * n * (k / CHUNK) * 4, 1, "ints");
        if (!P.ints) { release(&v); return NULL; }
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = pool_run(&P, threads);
    Py_END_ALLOW_THREADS
    release(&v);
    if (rc != 0) {
        PyErr_SetString(PyExc_RuntimeError, "could not start the kernel's worker threads");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *py_isas(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    PyObject *out = PyList_New(0);
    for (int isa = 0; isa < 4 && out; isa++) {
        if (!isa_supported(isa)) continue;
        PyObject *name = PyUnicode_FromString(ISA_NAMES[isa]);
        if (!name || PyList_Append(out, name) != 0) { Py_XDECREF(name); Py_DECREF(out); return NULL; }
        Py_DECREF(name);
    }
    return out;
}

static PyObject *py_selected_isa(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    const int isa = chosen_isa();
    return isa < 0 ? NULL : PyUnicode_FromString(ISA_NAMES[isa]);
}

#include "_decoder.c" /* the decoder loop over these kernels and this pool */

static PyMethodDef methods[] = {
    {"build_tables", py_build_tables, METH_VARARGS, "Quantized activation tables for m vectors of k floats."},
    {"gemm", py_gemm, METH_VARARGS, "y = W x for m activation vectors from their tables (GIL released)."},
    {"isas", py_isas, METH_NOARGS, "The instruction-set paths this CPU and build can run, slowest first."},
    {"selected_isa", py_selected_isa, METH_NOARGS, "The path a call takes now (EDGEMIND_TMAC_ISA or the best)."},
    {"decoder_new", py_decoder_new, METH_VARARGS, "A Qwen2/Llama decoder with its KV cache and scratch (capsule)."},
    {"decoder_set_matrix", py_decoder_set_matrix, METH_VARARGS, "Hand the decoder one weight matrix (kept alive)."},
    {"decoder_set_vector", py_decoder_set_vector, METH_VARARGS, "Hand the decoder one norm/bias/RoPE vector."},
    {"decoder_run", py_decoder_run, METH_VARARGS, "Run tokens from a position; logits of the last (GIL released)."},
    {"decoder_matvec", py_decoder_matvec, METH_VARARGS, "One slot's product alone (tests)."},
    {NULL, NULL, 0, NULL},
};

#ifndef TMAC_SOURCE_DIGEST
#define TMAC_SOURCE_DIGEST "unknown" /* built without setup.py */
#endif

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lut", "T-MAC lookup-table low-bit GEMV/GEMM.", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__lut(void) {
    if (!pool_ready) {
        pool_init();
#ifndef _WIN32
        pthread_atfork(NULL, NULL, pool_after_fork_in_child);
#endif
        pool_ready = 1;
    }
    PyObject *m = PyModule_Create(&module);
    /* setup.py's digest of the sources this was built from: the package refuses a module built from other ones */
    if (m && PyModule_AddStringConstant(m, "source_digest", TMAC_SOURCE_DIGEST) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
#endif /* TMAC_STANDALONE */

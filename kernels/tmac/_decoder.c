/* The decoder loop of a Qwen2/Llama model over the T-MAC kernels, one token per call (kernels/tmac/decoder.py).
 *
 * #included by _lut.c (one extension, one thread pool): Python builds a model object, hands it every matrix in
 * one of three layouts and every vector, then calls step(token, pos, logits) once per token with the GIL
 * released. Matrix layouts:
 *   MAT_TMAC  T-MAC bit planes (_lut.c's layout), exact for Q4_0/Q4_1/TQ1_0/TQ2_0; activations as int8 tables.
 *   MAT_Q8    int8 codes with one fp32 scale (and optionally one fp32 min) per block of 16 or 32 weights:
 *             w = s * q (+ m). Exact for Q8_0, Q5_0/Q5_1, Q4_0/Q4_1, Q4_K/Q5_K (block 32), Q6_K (block 16);
 *             activations quantized to int8 per 32 as llama.cpp's quantize_row_q8_0/q8_1 do (the K-quants: per
 *             256 as its quantize_row_q8_K does, act_q8k), AVX2 dot products.
 *             For the legacy types (fp16_act) the dot product is llama.cpp's ggml_vec_dot_q4_1_q8_1 / q8_0_q8_0
 *             step for step: the activation scale and sum rounded to fp16 as block_q8_1 stores them, the same 8
 *             int32 lanes per block, one FMA per block into 8 float lanes, the mins term summed apart and added
 *             last. The same integers and the same float operations in the same order give the same bits. Q4_1
 *             may stay packed as the GGUF's nibbles (packed4), read as ggml_vec_dot_q4_1_q8_1 reads them. A matrix
 *             of rows a multiple of 4 is repacked at load into records of four rows per block (g4_repack: one
 *             stream, prefetched; Q5_0/Q4_0 codes at 5 bits), each row's operations unchanged.
 *   The rest of the step follows llama.cpp's CPU code too (RMSNorm, RoPE tables, attention, softmax, SwiGLU; see
 *   each function), so the int8 path on a model of legacy quants gives llama.cpp's logits bit for bit, with its fp32
 *   or (kv_f16) its default f16 cache, a prompt one token at a time or (batch) as one batch.
 *   MAT_F32   dense fp32 rows (F32/BF16 tensors), AVX2 FMA GEMV.
 *   MAT_F16   dense fp16 rows (F16 tensors: half the bytes of their fp32 copy), widened to fp32 as they are read:
 *             the same products in the same order as MAT_F32, so the same logits.
 * Everything the step needs is allocated once at creation (KV cache of n_ctx positions, fp32; scratch vectors). */

#define MAT_TMAC 0
#define MAT_Q8 1
#define MAT_F32 2
#define MAT_F16 3
#define SLOT_QKV 0
#define SLOT_O 1
#define SLOT_GU 2
#define SLOT_DOWN 3
#define N_SLOTS 4
#define MAX_PARTS 3
#define VEC_ATTN_NORM 0
#define VEC_FFN_NORM 1
#define VEC_QKV_BIAS 2
#define N_VECS 3

typedef struct {
    int used, kind;
    int64_t n, k, out_off;
    /* MAT_TMAC */
    int bits, zero, has_min;
    int64_t block;
    const uint8_t *w;
    /* MAT_Q8: block 32, activations as llama.cpp's block_q8_0/q8_1 hold them (fp16 scale and sum) */
    int fp16_act;
    /* MAT_Q8 with fp16_act: q holds a Q4_1 matrix's nibbles in the GGUF's order (k / 2 bytes a row, element i < 16
     * of a block in the low nibble of byte i, element 16 + i in its high nibble), codes 0..15 */
    int packed4;
    /* MAT_Q8 (block = 16 or 32) */
    const int8_t *q;
    const float *s, *m;
    /* MAT_F32 / MAT_F16 */
    const float *f;
    const uint16_t *h;
    /* MAT_Q8 with rows a multiple of 4 (g4_eligible): the rows repacked in groups of four (g4_repack), q, s and m
     * unused. own: the allocation to free (NULL where g is shared: a tied LM head) */
    const uint8_t *g;
    uint8_t *own;
    int q5; /* group layout of int8 codes all in -16..15 (Q5_0, Q4_0): 5 bits a code */
} Mat;

typedef struct {
    Mat parts[N_SLOTS][MAX_PARTS];
    const float *vec[N_VECS];
} Layer;

/* One activation vector, prepared once for every matrix that reads it. */
typedef struct {
    const float *x;
    int64_t k;
    int have_tables, have_q8;
    int8_t *tq;
    float *tscales, *txsum;
    int32_t *tc15;
    int8_t *xq;       /* int8 per 32 */
    float *xs;        /* scale per 32 */
    float *xsum16;    /* d * sum of q per 16 (mins) */
    float *xd16;      /* scale per 32 rounded to fp16 (block_q8_0/q8_1's d) */
    float *xs16;      /* fp16 of d * sum of q per 32 (block_q8_1's s) */
    /* the K-quants' activations (block_q8_K: one scale per 256), in the per-32 / per-16 shape of xs / xsum16 */
    int have_q8k;
    int8_t *kq;
    float *ks, *ksum16;
} Act;

typedef struct {
    int layers, hidden, heads, kv_heads, head_dim, ffn, vocab, n_ctx, threads, interleaved, isa;
    int kv_f16;        /* K, V (and q, the probabilities) rounded to fp16 as llama.cpp's default f16 cache holds them */
    float eps;
    Layer *layer;
    Mat embed, head;
    const float *out_norm, *rope_cos, *rope_sin; /* cos/sin [n_ctx][head_dim / 2] */
    float *kcache, *vcache;                      /* [layers][kv_heads][n_ctx][head_dim] */
    float *own_rope;                             /* llama.cpp's tables when built here (rope_cos/sin point in) */
    float *x, *h, *qkv, *att, *tmp, *gu, *act, *scores, *qh;
    Act a;
    int busy;
    Py_buffer bufs[512];
    int n_bufs;
} Decoder;

/* ------------------------------------------------------------------------------------------ pieces */

/* As ggml_compute_forward_rms_norm_f32: fp32 squares summed in double, the mean and the scale in fp32. */
static void rms_norm(const float *x, const float *w, float *out, int n, float eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    const float mean = (float)(ss / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* llama.cpp's RoPE tables (ggml_rope_cache_init without YaRN or frequency factors): the angle of pair i at position
 * p is p * theta_scale^i accumulated by fp32 multiplications, theta_scale = powf(base, -2 / dims), and cosf/sinf of
 * it. Float64 angles differ from these by up to p * i * 6e-8 radians (1e-4 at p = 60): far more than fp32 rounding,
 * enough to part greedy text from llama.cpp's. */
static void rope_tables_ggml(float *cos_out, float *sin_out, int n_ctx, int half, float base) {
    const float theta_scale = powf(base, -2.0f / (float)(2 * half));
    for (int p = 0; p < n_ctx; p++) {
        float theta = (float)p;
        for (int i = 0; i < half; i++) {
            cos_out[(int64_t)p * half + i] = cosf(theta);
            sin_out[(int64_t)p * half + i] = sinf(theta);
            theta *= theta_scale;
        }
    }
}

static void act_reset(Act *A, const float *x, int64_t k) {
    A->x = x;
    A->k = k;
    A->have_tables = A->have_q8 = A->have_q8k = 0;
}

static void act_tables(Decoder *D) {
    Act *A = &D->a;
    if (A->have_tables) return;
#ifdef TMAC_X86
    if (D->isa == ISA_AVX2 || D->isa == ISA_AVX512)
        build_tables_one_avx2(A->x, A->k, A->tq, A->tscales, A->tc15, A->txsum);
    else
#endif
        build_tables_one(A->x, A->k, A->tq, A->tscales, A->tc15, A->txsum);
    A->have_tables = 1;
}

/* f rounded to the nearest fp16 value (ties to even), kept as a float: what llama.cpp keeps of a Q8 block's scale
 * (GGML_CPU_FP32_TO_FP16 is F16C's round-to-nearest-even). Finite input. */
static float fp16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint32_t sign = u & 0x80000000u;
    uint32_t a = u & 0x7fffffffu;
    float af;
    memcpy(&af, &a, 4);
    if (af >= 65520.0f) return sign ? -INFINITY : INFINITY;
    if (af < 0x1p-14f) { /* fp16 subnormals are the multiples of 2^-24 */
        const float r = nearbyintf(af * 0x1p24f) * 0x1p-24f;
        return sign ? -r : r;
    }
    a = (a + 0x0fffu + ((a >> 13) & 1u)) & ~0x1fffu; /* keep 10 mantissa bits, ties to even */
    a |= sign;
    memcpy(&af, &a, 4);
    return af;
}

#ifdef TMAC_X86
/* The amax and the codes of block b as quantize_row_q8_1's AVX2 code finds them (a max is exact in any order; x * id
 * rounded to nearest even, as nearbyintf): the scalar loop's values. */
TMAC_TARGET("avx2,fma,f16c")
static float q8_block_avx2(const float *x, int8_t *q) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
                 v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
#define Q8_ROUND(v) \
    _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
    const __m256i i0 = Q8_ROUND(v0), i1 = Q8_ROUND(v1), i2 = Q8_ROUND(v2), i3 = Q8_ROUND(v3);
#undef Q8_ROUND
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    return amax;
}
#endif

/* int8 per 32 as llama.cpp's quantize_row_q8_0/q8_1 (x86): d = amax / 127, q = x * (127 / amax) rounded to nearest
 * even; d * sum(q) per 16 (K-quant mins), and block_q8_1's fp16 d and fp16 d * sum(q) per 32. */
static void act_q8(Decoder *D) {
    Act *A = &D->a;
    if (A->have_q8) return;
    for (int64_t b = 0; b < A->k / 32; b++) {
        const float *x = A->x + 32 * b;
        float amax = 0.0f;
#ifdef TMAC_X86
        if (D->isa == ISA_AVX2 || D->isa == ISA_AVX512)
            amax = q8_block_avx2(x, A->xq + 32 * b);
        else
#endif
        {
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
            const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
            for (int i = 0; i < 32; i++) A->xq[32 * b + i] = (int8_t)nearbyintf(x[i] * id);
        }
        const float d = amax / 127.0f;
        A->xs[b] = d;
        /* Sums of the quantized values, as llama.cpp's Q8_1 keeps them: the mins term then rounds the same activations
         * as the codes term, so the error is the centred weight (d q + m) times the rounding, not d q with q in 0..15
         * (SmolLM2 Q4_1: max logit error against float64 0.5-0.9 as llama.cpp's, 1.5-2.7 with exact sums). The
         * T-MAC tables have no per-activation rounding to match, so their mins term keeps the exact sums. */
        int32_t s0 = 0, s1 = 0;
        for (int i = 0; i < 16; i++) { s0 += A->xq[32 * b + i]; s1 += A->xq[32 * b + 16 + i]; }
        A->xsum16[2 * b] = d * (float)s0;
        A->xsum16[2 * b + 1] = d * (float)s1;
        A->xd16[b] = fp16_round(d);
        A->xs16[b] = fp16_round(d * (float)(s0 + s1));
    }
    A->have_q8 = 1;
}

/* The K-quants' activations as llama.cpp's quantize_row_q8_K makes them (x86 runs its reference code): one scale
 * per 256 from the signed value of largest magnitude, iscale = -127 / max, q = iscale * x rounded to nearest even and
 * capped at 127, d = 1 / iscale, and the sums of q per 16 (bsums). ggml_vec_dot_q4_K_q8_K / q6_K_q8_K multiply those
 * codes: with act_q8's per-32 codes (finer, but other integers) the logits of a model with K-quant matrices part from
 * llama.cpp's (Qwen2.5-Coder's Q4_K/Q6_K ffn_down). Stored as act_q8 stores its own -- d repeated per 32 in ks,
 * d * bsum per 16 in ksum16 -- so the K-quant kernels read them unchanged. */
static void act_q8k(Decoder *D) {
    Act *A = &D->a;
    if (A->have_q8k) return;
    for (int64_t b = 0; b < A->k / 256; b++) {
        const float *x = A->x + 256 * b;
        int8_t *q = A->kq + 256 * b;
        float max = 0.0f, amax = 0.0f;
        for (int i = 0; i < 256; i++) {
            const float ax = fabsf(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        float d = 0.0f;
        if (amax == 0.0f) memset(q, 0, 256);
        else {
            const float iscale = -127.0f / max;
            for (int i = 0; i < 256; i++) {
                const int v = (int)nearbyintf(iscale * x[i]);
                q[i] = (int8_t)(v < 127 ? v : 127);
            }
            d = 1.0f / iscale;
        }
        for (int j = 0; j < 8; j++) A->ks[8 * b + j] = d;
        for (int j = 0; j < 16; j++) {
            int32_t sum = 0;
            for (int i = 0; i < 16; i++) sum += q[16 * j + i];
            A->ksum16[16 * b + j] = d * (float)sum;
        }
    }
    A->have_q8k = 1;
}

/* ---------------------------------------------------------------------- int8-path rows in groups of four */

/* An int8-path matrix (Q4_1 nibbles; int8 codes of Q8_0/Q5_0/Q4_0 or of the K-quants) is repacked at load into
 * groups of four rows, one record per group and block of 32, groups one after another: one weight stream a product
 * reads front to back (prefetched), one activation load shared by four rows, and the four rows' scales (and mins) side
 * by side, so the Q4_1 mins term of four rows is one 4-lane FMA per block -- lane j the same fmaf chain
 * ggml_vec_dot_q4_1_q8_1 runs for row j. The integer sums and every float operation of a row are those of the
 * row-by-row kernels, so are the logits.
 *   Q4_1 (packed4), 80 bytes: rows 0|1 then rows 2|3, 32 bytes a pair, byte e = code of element e of the pair's first
 *        row in the low nibble, of its second row in the high nibble; then 4 fp16 scales, 4 fp16 mins.
 *   int8 codes, 136 bytes: rows 0..3, 32 codes each; then 4 fp16 scales.
 *   int8 codes all in -16..15 (Q5_0, Q4_0; q5), 88 bytes: the low 4 bits of code + 16 paired as Q4_1's nibbles; then
 *        16 bytes of fifth bits, byte e holding row j's of element e in bit j and of element 16 + e in bit 4 + j;
 *        then 4 fp16 scales. The integer sums are the same (u - 16) x summed as u x - 16 x.
 *   K-quant int8 codes (not fp16_act: Q8_K-style activations), 160 bytes: rows 0..3, 32 codes each; then fp32 scales,
 *        block 32: rows 0..3 and (with mins) their 4 fp32 mins; block 16: the first 16's of rows 0..3, then the second
 *        16's. The mins term is summed after the codes term, block by block, as q8_rows4_avx2 sums it.
 * The legacy types' scales and mins are fp16 as the GGUF holds them (the product reads fewer bytes: it waits on
 * memory); such a matrix whose fp32 scales or mins are not all fp16 values keeps the row layout. */
#define G4_ROWS 4
#ifndef G4_PREFETCH
#define G4_PREFETCH 2048
#endif
static int64_t g4_record(const Mat *M) { return M->packed4 ? 80 : M->q5 ? 88 : M->fp16_act ? 136 : 160; }

static int g4_eligible(int packed4, int fp16_act, int has_min, int64_t block, int64_t n) {
    if (n % G4_ROWS) return 0;
    if (!fp16_act) return !packed4 && (block == 32 || !has_min);
    return block == 32 && (packed4 ? has_min : !has_min);
}

static const uint8_t *g4_rec(const Mat *M, int64_t r, int64_t b) {
    return M->g + ((r / G4_ROWS) * (M->k / 32) + b) * g4_record(M);
}

/* Code of element i of row r (0..15 for Q4_1, else int8) in any Q8 layout. */
static int mat_code(const Mat *M, int64_t r, int64_t i) {
    const int e = (int)(i % 32);
    if (M->g) {
        const uint8_t *rec = g4_rec(M, r, i / 32);
        const int j = (int)(r % G4_ROWS);
        if (M->q5) {
            const uint8_t byte = rec[32 * (j / 2) + e];
            const int lo = j % 2 ? byte >> 4 : byte & 15, hi = (rec[64 + e % 16] >> (j + (e >= 16 ? 4 : 0))) & 1;
            return (lo | hi << 4) - 16;
        }
        if (!M->packed4) return (int8_t)rec[32 * j + e];
        const uint8_t byte = rec[32 * (j / 2) + e];
        return j % 2 ? byte >> 4 : byte & 15;
    }
    if (M->packed4) {
        const uint8_t *pw = (const uint8_t *)M->q + r * (M->k / 2) + i / 32 * 16;
        return e < 16 ? pw[e] & 15 : pw[e - 16] >> 4;
    }
    return M->q[r * M->k + i];
}

/* Scale of block b (of M->block weights) of row r. */
static float mat_scale(const Mat *M, int64_t r, int64_t b) {
    if (!M->g) return M->s[r * (M->k / M->block) + b];
    if (!M->fp16_act) {
        float v;
        memcpy(&v, g4_rec(M, r, b * M->block / 32) + 128 + (M->block == 16 ? 16 * (b % 2) : 0) + 4 * (r % G4_ROWS), 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, g4_rec(M, r, b) + (M->packed4 ? 64 : M->q5 ? 80 : 128) + 2 * (r % G4_ROWS), 2);
    return fp16_to_fp32(h);
}

/* The min of block b of row r; 0 for a matrix without mins. */
static float mat_min(const Mat *M, int64_t r, int64_t b) {
    if (!M->g) return M->m ? M->m[r * (M->k / M->block) + b] : 0.0f;
    if (!M->has_min) return 0.0f;
    if (!M->packed4) {
        float v;
        memcpy(&v, g4_rec(M, r, b) + 144 + 4 * (r % G4_ROWS), 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, g4_rec(M, r, b) + 72 + 2 * (r % G4_ROWS), 2);
    return fp16_to_fp32(h);
}

static int mat_has_min(const Mat *M) { return M->g ? M->has_min : M->m != NULL; }

/* The fp16 bits of f, which is an fp16 value (g4_fp16_exact checked it): finite, normal or subnormal. */
static uint16_t fp32_to_fp16_exact(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const float a = fabsf(f);
    if (a == 0.0f) return sign;
    if (a < 0x1p-14f) return (uint16_t)(sign | (uint16_t)(a * 0x1p24f)); /* subnormal: a multiple of 2^-24 */
    const uint32_t e = ((u >> 23) & 0xFFu) - 127 + 15;
    return (uint16_t)(sign | (e << 10) | ((u >> 13) & 0x3FFu));
}

/* Whether all n values are fp16 values (what a GGUF's scales and mins are): the group layout stores them so. */
static int g4_fp16_exact(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || fabsf(v[i]) > 65504.0f || fp16_to_fp32(fp32_to_fp16_exact(v[i])) != v[i])
            return 0;
    return 1;
}

/* Record (gi, b) of the group layout, from src (the matrix in the row layout) into o (zeroed, g4_record bytes). */
static void g4_fill(const Mat *src, int64_t gi, int64_t b, uint8_t *o) {
    const int64_t nb = src->k / 32;
    for (int j = 0; j < G4_ROWS; j++) {
        const int64_t r = gi * G4_ROWS + j;
        for (int e = 0; e < 32; e++) {
            const int c = mat_code(src, r, 32 * b + e);
            if (src->packed4) o[32 * (j / 2) + e] |= (uint8_t)(j % 2 ? c << 4 : c);
            else if (src->q5) {
                const int u = c + 16;
                o[32 * (j / 2) + e] |= (uint8_t)(j % 2 ? (u & 15) << 4 : u & 15);
                o[64 + e % 16] |= (uint8_t)((u >> 4) << (j + (e >= 16 ? 4 : 0)));
            } else o[32 * j + e] = (uint8_t)(int8_t)c;
        }
        if (!src->fp16_act) { /* fp32 scales (and mins) per block of src->block */
            const int64_t per = 32 / src->block, nsub = src->k / src->block;
            for (int64_t h = 0; h < per; h++) memcpy(o + 128 + 16 * h + 4 * j, &src->s[r * nsub + per * b + h], 4);
            if (src->has_min) memcpy(o + 144 + 4 * j, &src->m[r * nsub + b], 4);
            continue;
        }
        const uint16_t sc = fp32_to_fp16_exact(src->s[r * nb + b]);
        memcpy(o + (src->packed4 ? 64 : src->q5 ? 80 : 128) + 2 * j, &sc, 2);
        if (src->packed4) {
            const uint16_t mn = fp32_to_fp16_exact(src->m[r * nb + b]);
            memcpy(o + 72 + 2 * j, &mn, 2);
        }
    }
}

/* Whether other's records are those src would be repacked to (a tied LM head: the embedding's records serve). */
static int g4_same(const Mat *src, const Mat *other) {
    uint8_t rec[160];
    const int64_t nb = src->k / 32, size = g4_record(src);
    for (int64_t gi = 0; gi < src->n / G4_ROWS; gi++)
        for (int64_t b = 0; b < nb; b++) {
            memset(rec, 0, sizeof rec);
            g4_fill(src, gi, b, rec);
            if (memcmp(rec, other->g + (gi * nb + b) * size, (size_t)size) != 0) return 0;
        }
    return 1;
}

/* The group layout of src (the matrix in the row layout); NULL when out of memory. *raw receives the allocation to
 * free (the records start 64-byte aligned inside it). */
static uint8_t *g4_repack(const Mat *src, uint8_t **raw) {
    const int64_t nb = src->k / 32, size = g4_record(src);
    *raw = (uint8_t *)calloc(1, (size_t)(src->n / G4_ROWS * nb * size + 64));
    if (!*raw) return NULL;
    uint8_t *out = *raw + (64 - (uintptr_t)*raw % 64) % 64;
    for (int64_t gi = 0; gi < src->n / G4_ROWS; gi++)
        for (int64_t b = 0; b < nb; b++) g4_fill(src, gi, b, out + (gi * nb + b) * size);
    return out;
}

typedef struct {
    const Mat *M;
    const Act *A;
    float *y;
    int isa;
} RowsJob;

/* The mins term of a legacy-type row as ggml_vec_dot_q4_1_q8_1 sums it: m * s per block, one FMA each (ggml builds
 * with -ffp-contract=fast), apart from the codes term. */
static float q8_mins_fp16(const Mat *M, const Act *A, int64_t r) {
    const int64_t nb = M->k / 32;
    float summs = 0.0f;
    for (int64_t b = 0; b < nb; b++) summs = fmaf(mat_min(M, r, b), A->xs16[b], summs);
    return summs;
}

static float q8_row_scalar(const Mat *M, const Act *A, int64_t r) {
    const int64_t k = M->k, nb = k / M->block;
    float total = 0.0f;
    if (M->fp16_act && (M->packed4 || M->g)) { /* the legacy types, any layout */
        for (int64_t b = 0; b < nb; b++) {
            int32_t dot = 0;
            for (int i = 0; i < 32; i++) dot += mat_code(M, r, 32 * b + i) * A->xq[32 * b + i];
            total += mat_scale(M, r, b) * A->xd16[b] * (float)dot;
        }
        return mat_has_min(M) ? total + q8_mins_fp16(M, A, r) : total;
    }
    if (M->fp16_act) {
        const int8_t *w = M->q + r * k;
        for (int64_t b = 0; b < nb; b++) {
            int32_t dot = 0;
            for (int64_t i = 32 * b; i < 32 * (b + 1); i++) dot += (int32_t)w[i] * A->xq[i];
            total += M->s[r * nb + b] * A->xd16[b] * (float)dot;
        }
        return M->m ? total + q8_mins_fp16(M, A, r) : total;
    }
    for (int64_t b = 0; b < nb; b++) {
        int32_t dot = 0;
        for (int64_t i = b * M->block; i < (b + 1) * M->block; i++) dot += mat_code(M, r, i) * A->xq[i];
        total += mat_scale(M, r, b) * A->xs[b * M->block / 32] * (float)dot;
        if (mat_has_min(M))
            total += mat_min(M, r, b) * (M->block == 32 ? A->xsum16[2 * b] + A->xsum16[2 * b + 1] : A->xsum16[b]);
    }
    return total;
}

/* One dense row (MAT_F32 or MAT_F16) times x. */
static float dense_row_scalar(const Mat *M, const Act *A, int64_t r) {
    float total = 0.0f;
    const float *w = M->f ? M->f + r * M->k : NULL;
    const uint16_t *h = M->h ? M->h + r * M->k : NULL;
    for (int64_t i = 0; i < M->k; i++) total += (h ? fp16_to_fp32(h[i]) : w[i]) * A->x[i];
    return total;
}

#ifdef TMAC_X86
TMAC_TARGET("avx2,fma,f16c")
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 32 int8 products summed in int32 lanes: lanes 0-3 hold elements 0-15, lanes 4-7 elements 16-31. */
TMAC_TARGET("avx2,fma,f16c")
static inline __m256i dot32_avx2(const int8_t *w, const int8_t *x) {
    const __m256i wv = _mm256_loadu_si256((const __m256i *)w), xv = _mm256_loadu_si256((const __m256i *)x);
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(xv, xv), _mm256_sign_epi8(wv, xv));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* A block's 32 Q4_1 codes as bytes in element order (ggml's bytes_from_nibbles_32). */
TMAC_TARGET("avx2,fma,f16c")
static inline __m256i nibbles32_avx2(const uint8_t *p) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)p);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), _mm_srli_epi16(lo, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* Rows r..r+rows-1 (1 to 4) of a packed Q4_1 matrix: ggml_vec_dot_q4_1_q8_1 (AVX2) step for step -- unsigned codes
 * times signed activations in int16 pairs, int32 lanes of 4, one FMA per block with d_w * d_x, the mins apart. */
TMAC_TARGET("avx2,fma,f16c")
static void q4_rows_avx2(const Mat *M, const Act *A, int64_t r, int rows, float *y) {
    const int64_t k = M->k, nb = k / 32;
    const uint8_t *w0 = (const uint8_t *)M->q + r * (k / 2);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(A->xq + 32 * b));
        const float xd = A->xd16[b];
        for (int j = 0; j < rows; j++) {
            const __m256i qx = nibbles32_avx2(w0 + j * (k / 2) + 16 * b);
            const __m256 xy = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(qx, xv), ones));
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(M->s[(r + j) * nb + b] * xd), xy, acc[j]);
        }
    }
    for (int j = 0; j < rows; j++) y[j] = hsum8(acc[j]) + q8_mins_fp16(M, A, r + j);
}

TMAC_TARGET("avx2,fma,f16c")
static float q8_row_avx2(const Mat *M, const Act *A, int64_t r) {
    const int64_t k = M->k, nb = k / M->block, n32 = k / 32;
    const int8_t *w = M->q + r * k;
    const float *s = M->s + r * nb;
    __m256 acc = _mm256_setzero_ps();
    if (M->fp16_act) {
        for (int64_t b = 0; b < n32; b++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(s[b] * A->xd16[b]),
                                  _mm256_cvtepi32_ps(dot32_avx2(w + 32 * b, A->xq + 32 * b)), acc);
        return M->m ? hsum8(acc) + q8_mins_fp16(M, A, r) : hsum8(acc);
    }
    if (M->block == 32) {
        for (int64_t b = 0; b < n32; b++)
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32_avx2(w + 32 * b, A->xq + 32 * b)),
                                  _mm256_set1_ps(s[b] * A->xs[b]), acc);
    } else {
        for (int64_t b = 0; b < n32; b++) {
            const float s0 = s[2 * b] * A->xs[b], s1 = s[2 * b + 1] * A->xs[b];
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32_avx2(w + 32 * b, A->xq + 32 * b)),
                                  _mm256_setr_ps(s0, s0, s0, s0, s1, s1, s1, s1), acc);
        }
    }
    float total = hsum8(acc);
    if (M->m) {
        const float *m = M->m + r * nb;
        for (int64_t b = 0; b < nb; b++)
            total += m[b] * (M->block == 32 ? A->xsum16[2 * b] + A->xsum16[2 * b + 1] : A->xsum16[b]);
    }
    return total;
}

/* Four rows at once: the activation block and its absolute value are loaded once for all four (the int8 GEMV is
 * the LM head's and all of a K-quant model's work). Rows r..r+3 -> y[r..r+3]. */
TMAC_TARGET("avx2,fma,f16c")
static void q8_rows4_avx2(const Mat *M, const Act *A, int64_t r, float *y) {
    const int64_t k = M->k, nb = k / M->block, n32 = k / 32;
    const int8_t *w0 = M->q + r * k;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < n32; b++) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(A->xq + 32 * b));
        const __m256i ax = _mm256_sign_epi8(xv, xv);
        const float xs = M->fp16_act ? A->xd16[b] : A->xs[b];
        for (int j = 0; j < 4; j++) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(w0 + j * k + 32 * b));
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv, xv)), ones);
            const float *s = M->s + (r + j) * nb;
            const __m256 sv = M->block == 32 ? _mm256_set1_ps(s[b] * xs)
                : _mm256_setr_ps(s[2 * b] * xs, s[2 * b] * xs, s[2 * b] * xs, s[2 * b] * xs, s[2 * b + 1] * xs,
                                 s[2 * b + 1] * xs, s[2 * b + 1] * xs, s[2 * b + 1] * xs);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sv, acc[j]);
        }
    }
    for (int j = 0; j < 4; j++) {
        float total = hsum8(acc[j]);
        if (M->fp16_act) {
            y[j] = M->m ? total + q8_mins_fp16(M, A, r + j) : total;
            continue;
        }
        if (M->m) {
            const float *m = M->m + (r + j) * nb;
            for (int64_t b = 0; b < nb; b++)
                total += m[b] * (M->block == 32 ? A->xsum16[2 * b] + A->xsum16[2 * b + 1] : A->xsum16[b]);
        }
        y[j] = total;
    }
}

/* The record G4_PREFETCH bytes ahead (`lines` cache lines of it) on its way to L1: the weight stream otherwise waits
 * on memory (measured: 15.5 -> 11 -> 8.7 ms a SmolLM2 token without, then with it). */
static inline void g4_prefetch(const uint8_t *rec, int lines) {
    for (int i = 0; i < lines; i++) _mm_prefetch((const char *)(rec + G4_PREFETCH + 64 * i), _MM_HINT_T0);
}

/* The four hsum8s of a group at once, each in hsum8's order: (lo + hi), then (lanes 0 + 2) + (lanes 1 + 3). */
TMAC_TARGET("avx2,fma,f16c")
static inline __m128 hsum8_x4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    const __m128 t1 = _mm_add_ps(_mm256_castps256_ps128(a1), _mm256_extractf128_ps(a1, 1));
    const __m128 t2 = _mm_add_ps(_mm256_castps256_ps128(a2), _mm256_extractf128_ps(a2, 1));
    const __m128 t3 = _mm_add_ps(_mm256_castps256_ps128(a3), _mm256_extractf128_ps(a3, 1));
    /* [t0[0]+t0[2], t1[0]+t1[2], t0[1]+t0[3], t1[1]+t1[3]] and the same of t2, t3 */
    const __m128 u01 = _mm_add_ps(_mm_unpacklo_ps(t0, t1), _mm_unpackhi_ps(t0, t1));
    const __m128 u23 = _mm_add_ps(_mm_unpacklo_ps(t2, t3), _mm_unpackhi_ps(t2, t3));
    return _mm_add_ps(_mm_movelh_ps(u01, u23), _mm_movehl_ps(u23, u01));
}

/* The four fp16 scales at p times the activation block's fp16-rounded scale (four fp32 products, as d_w * d_x per row),
 * in both halves. */
TMAC_TARGET("avx2,fma,f16c")
static inline __m256 g4_scales4(const uint8_t *p, float xd) {
    const __m128 d = _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)p)), _mm_set1_ps(xd));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(d), d, 1);
}

/* Groups g0..g1-1 of a Q4_1 matrix in the group layout: per row q4_rows_avx2's operations (ggml_vec_dot_q4_1_q8_1),
 * the nibbles of two rows from one load. */
TMAC_TARGET("avx2,fma,f16c")
static void q4_groups_avx2(const Mat *M, const Act *A, int64_t g0, int64_t g1, float *y) {
    const int64_t nb = M->k / 32;
    const __m256i ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(0x0F);
    for (int64_t gi = g0; gi < g1; gi++) {
        const uint8_t *rec = M->g + gi * nb * 80;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        __m128 summs = _mm_setzero_ps();
        for (int64_t b = 0; b < nb; b++, rec += 80) {
            g4_prefetch(rec, 2);
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(A->xq + 32 * b));
            const __m256i v01 = _mm256_loadu_si256((const __m256i *)rec);
            const __m256i v23 = _mm256_loadu_si256((const __m256i *)(rec + 32));
            const __m256i q0 = _mm256_and_si256(v01, low), q1 = _mm256_and_si256(_mm256_srli_epi16(v01, 4), low);
            const __m256i q2 = _mm256_and_si256(v23, low), q3 = _mm256_and_si256(_mm256_srli_epi16(v23, 4), low);
            /* the four rows' d_w * d_x, each then in all eight lanes */
            const __m256 dd = g4_scales4(rec + 64, A->xd16[b]);
            acc0 = _mm256_fmadd_ps(_mm256_permute_ps(dd, 0x00),
                                   _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(q0, xv), ones)), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_permute_ps(dd, 0x55),
                                   _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(q1, xv), ones)), acc1);
            acc2 = _mm256_fmadd_ps(_mm256_permute_ps(dd, 0xAA),
                                   _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(q2, xv), ones)), acc2);
            acc3 = _mm256_fmadd_ps(_mm256_permute_ps(dd, 0xFF),
                                   _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(q3, xv), ones)), acc3);
            summs = _mm_fmadd_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(rec + 72))), _mm_set1_ps(A->xs16[b]),
                                 summs);
        }
        _mm_storeu_ps(y + 4 * gi, _mm_add_ps(hsum8_x4(acc0, acc1, acc2, acc3), summs));
    }
}

/* Groups g0..g1-1 of an int8-code matrix in the group layout, per row q8_rows4_avx2's operations: the legacy types
 * (Q8_0; ggml_vec_dot_q8_0_q8_0) with fp16 scales times the fp16-rounded activation scale, or the K-quants (Q4_K/Q5_K
 * block 32 with mins, Q6_K block 16) with fp32 scales times the fp32 one, one FMA per block into 8 lanes, the
 * horizontal sum, then a K-quant's mins term added block by block. */
TMAC_TARGET("avx2,fma,f16c")
static void q8_groups_avx2(const Mat *M, const Act *A, int64_t g0, int64_t g1, float *y) {
    const int64_t nb = M->k / 32, size = g4_record(M);
    const __m256i ones = _mm256_set1_epi16(1);
    const int legacy = M->fp16_act, b16 = M->block == 16;
    for (int64_t gi = g0; gi < g1; gi++) {
        const uint8_t *rec = M->g + gi * nb * size;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int64_t b = 0; b < nb; b++, rec += size) {
            g4_prefetch(rec, 3);
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(A->xq + 32 * b));
            const __m256i ax = _mm256_sign_epi8(xv, xv);
            /* lanes 0-3: d_w * d_x of rows 0..3 (a K-quant's first 16's); lanes 4-7 the same again, or a block-16
             * K-quant's second 16's */
            __m256 dd;
            if (legacy) dd = g4_scales4(rec + 128, A->xd16[b]);
            else if (b16) dd = _mm256_mul_ps(_mm256_loadu_ps((const float *)(rec + 128)), _mm256_set1_ps(A->xs[b]));
            else {
                const __m128 d4 = _mm_mul_ps(_mm_loadu_ps((const float *)(rec + 128)), _mm_set1_ps(A->xs[b]));
                dd = _mm256_insertf128_ps(_mm256_castps128_ps256(d4), d4, 1);
            }
#define G4_Q8_ROW(j, acc)                                                                                             \
    acc = _mm256_fmadd_ps(                                                                                            \
        _mm256_permute_ps(dd, 0x55 * j),                                                                              \
        _mm256_cvtepi32_ps(_mm256_madd_epi16(                                                                         \
            _mm256_maddubs_epi16(ax, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(rec + 32 * j)), xv)),     \
            ones)),                                                                                                   \
        acc)
            G4_Q8_ROW(0, acc0);
            G4_Q8_ROW(1, acc1);
            G4_Q8_ROW(2, acc2);
            G4_Q8_ROW(3, acc3);
#undef G4_Q8_ROW
        }
        __m128 total = hsum8_x4(acc0, acc1, acc2, acc3);
        if (!legacy && M->has_min) {
            rec = M->g + gi * nb * size;
            for (int64_t b = 0; b < nb; b++, rec += size)
                total = _mm_add_ps(total, _mm_mul_ps(_mm_loadu_ps((const float *)(rec + 144)),
                                                     _mm_set1_ps(A->xsum16[2 * b] + A->xsum16[2 * b + 1])));
        }
        _mm_storeu_ps(y + 4 * gi, total);
    }
}

/* Groups g0..g1-1 of a Q5_0 (or Q4_0) matrix in the 5-bit group layout: per row q8_groups_avx2's operations
 * (ggml_vec_dot_q5_0_q8_0), the same int32 lanes computed as u x - 16 x with u = code + 16 in 0..31. */
TMAC_TARGET("avx2,fma,f16c")
static void q5_groups_avx2(const Mat *M, const Act *A, int64_t g0, int64_t g1, float *y) {
    const int64_t nb = M->k / 32;
    const __m256i ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    const __m256i one8 = _mm256_set1_epi8(1), halves = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
    for (int64_t gi = g0; gi < g1; gi++) {
        const uint8_t *rec = M->g + gi * nb * 88;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int64_t b = 0; b < nb; b++, rec += 88) {
            g4_prefetch(rec, 2);
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(A->xq + 32 * b));
            /* 16 times the sum of each int32 lane's four activations */
            const __m256i x16 = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(one8, xv), ones), 4);
            const __m256i v01 = _mm256_loadu_si256((const __m256i *)rec);
            const __m256i v23 = _mm256_loadu_si256((const __m256i *)(rec + 32));
            /* fifth bits: row j's in bit j of every byte, elements 0-15 in the low half, 16-31 in the high half */
            const __m256i hb = _mm256_srlv_epi32(
                _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(rec + 64))), halves);
            const __m256i u0 = _mm256_or_si256(_mm256_and_si256(v01, low),
                                               _mm256_and_si256(_mm256_slli_epi16(hb, 4), bit4));
            const __m256i u1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v01, 4), low),
                                               _mm256_and_si256(_mm256_slli_epi16(hb, 3), bit4));
            const __m256i u2 = _mm256_or_si256(_mm256_and_si256(v23, low),
                                               _mm256_and_si256(_mm256_slli_epi16(hb, 2), bit4));
            const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v23, 4), low),
                                               _mm256_and_si256(_mm256_slli_epi16(hb, 1), bit4));
            const __m256 dd = g4_scales4(rec + 80, A->xd16[b]);
#define G5_ROW(u, j, acc)                                                                                             \
    acc = _mm256_fmadd_ps(                                                                                            \
        _mm256_permute_ps(dd, 0x55 * j),                                                                              \
        _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(u, xv), ones), x16)), acc)
            G5_ROW(u0, 0, acc0);
            G5_ROW(u1, 1, acc1);
            G5_ROW(u2, 2, acc2);
            G5_ROW(u3, 3, acc3);
#undef G5_ROW
        }
        _mm_storeu_ps(y + 4 * gi, hsum8_x4(acc0, acc1, acc2, acc3));
    }
}

TMAC_TARGET("avx2,fma,f16c")
static float dense_row_avx2(const Mat *M, const Act *A, int64_t r) {
    const float *w = M->f ? M->f + r * M->k : NULL;
    const uint16_t *h = M->h ? M->h + r * M->k : NULL;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    if (h)
        for (; i + 8 <= M->k; i += 8)
            acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))),
                                  _mm256_loadu_ps(A->x + i), acc);
    else
        for (; i + 8 <= M->k; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(A->x + i), acc);
    float total = hsum8(acc);
    for (; i < M->k; i++) total += (h ? fp16_to_fp32(h[i]) : w[i]) * A->x[i];
    return total;
}

/* ggml_v_expf (ggml-cpu/vec.h, AVX2 + FMA) operation for operation: the exponential of llama.cpp's softmax and SiLU.
 * exp(-inf) is 0, as there. */
TMAC_TARGET("avx2,fma,f16c")
static inline __m256 expf8_ggml(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256i c = _mm256_castps_si256(
        _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(126), _CMP_GT_OQ));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(c))) return _mm256_fmadd_ps(j, k, k);
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256i d = _mm256_castps_si256(
        _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(192), _CMP_GT_OQ));
    return _mm256_or_ps(
        _mm256_and_ps(_mm256_castsi256_ps(d), _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(_mm256_castsi256_ps(d),
                         _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(c), _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                                      _mm256_andnot_ps(_mm256_castsi256_ps(c), _mm256_fmadd_ps(k, j, k)))));
}

/* ggml_vec_swiglu_f32: silu(g) * u with silu x / (1 + exp(-x)), 8 at a time (n a multiple of 32 here). */
TMAC_TARGET("avx2,fma,f16c")
static void swiglu_avx2(const float *g, const float *u, float *out, int n) {
    for (int i = 0; i < n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f),
                                                           expf8_ggml(_mm256_sub_ps(_mm256_setzero_ps(), x))));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
    }
}

/* ggml_vec_dot_f32 (AVX2): four 8-lane FMA accumulators over steps of 32, folded (0+2)+(1+3), the halves added,
 * two horizontal adds; the rest one by one. */
TMAC_TARGET("avx2,fma,f16c")
static float dot_f32_ggml(const float *x, const float *y, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const int np = n & ~31;
    for (int i = 0; i < np; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), s3);
    }
    s0 = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    float sum = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    for (int i = np; i < n; i++) sum += x[i] * y[i];
    return sum;
}

/* One head's attention as llama.cpp computes it without flash attention over an fp32 cache: kq = K q by
 * ggml_vec_dot_f32 per position, softmax_ext (kq * scale, max, ggml_v_expf in chunks of 8 whose fp32 sums add up
 * in double, times (float)(1 / sum)), then each output dim the ggml_vec_dot_f32 of V's column with the
 * probabilities -- done here 8 dims at a time with the 32 partial sums of its accumulators, folded in its order.
 * Positions past n have probability 0 there and add nothing. */
TMAC_TARGET("avx2,fma,f16c")
static inline void fp16_round_avx2(const float *x, float *y, int n) {
    for (int i = 0; i < n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
}

/* llamafile's tinyBLAS (AVX2), what llama.cpp's attention runs on for a batch of tokens: one 8-lane FMA accumulator
 * over k, then its horizontal sum (hsum8's order). */
TMAC_TARGET("avx2,fma,f16c")
static float dot_tiny(const float *x, const float *y, int n) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc);
    return hsum8(acc);
}

/* f16: llama.cpp's f16 cache (K and V already rounded when stored): q and the probabilities are rounded to fp16 as
 * its mul_mat converts them (ggml_vec_dot_f16 has ggml_vec_dot_f32's shape). batch: the step is one token of a
 * batch (a prompt): llama.cpp then multiplies with tinyBLAS -- kq only when the cache is f16 (an fp32 kq has a
 * non-contiguous q and stays on vec_dot), kqv always. qh: hd floats of scratch. */
TMAC_TARGET("avx2,fma,f16c")
static void attn_head_ggml(const float *q, const float *K, const float *V, int n, int hd, float scale, float *sc,
                           float *o, int f16, int batch, float *qh) {
    float mx = -INFINITY;
    if (f16) {
        fp16_round_avx2(q, qh, hd);
        q = qh;
    }
    for (int t = 0; t < n; t++) {
        const float *k = K + (int64_t)t * hd;
        sc[t] = (f16 && batch ? dot_tiny(k, q, hd) : dot_f32_ggml(k, q, hd)) * scale;
        if (sc[t] > mx) mx = sc[t];
    }
    const int n8 = (n + 7) & ~7;
    for (int t = n; t < n8; t++) sc[t] = -INFINITY;
    double sum = 0.0;
    for (int t = 0; t < n8; t += 8) {
        const __m256 v = expf8_ggml(_mm256_sub_ps(_mm256_loadu_ps(sc + t), _mm256_set1_ps(mx)));
        _mm256_storeu_ps(sc + t, v);
        sum += (double)hsum8(v);
    }
    const float inv = (float)(1.0 / sum);
    for (int t = 0; t < n; t++) sc[t] *= inv;
    if (f16) fp16_round_avx2(sc, sc, n8);
    if (batch) {
        for (int i0 = 0; i0 < hd; i0 += 8) {
            __m256 P[8];
            for (int j = 0; j < 8; j++) P[j] = _mm256_setzero_ps();
            for (int t = 0; t < n; t++)
                P[t & 7] = _mm256_fmadd_ps(_mm256_loadu_ps(V + (int64_t)t * hd + i0), _mm256_set1_ps(sc[t]), P[t & 7]);
            const __m256 a = _mm256_add_ps(_mm256_add_ps(P[0], P[4]), _mm256_add_ps(P[2], P[6]));
            const __m256 b = _mm256_add_ps(_mm256_add_ps(P[1], P[5]), _mm256_add_ps(P[3], P[7]));
            _mm256_storeu_ps(o + i0, _mm256_add_ps(a, b));
        }
        return;
    }
    if (hd % 64 == 0) {
        /* the same 32 partial sums per dim, each a chain over t = c, c + 32, ... in order: a class at a time, 64 dims
         * in eight registers (indexing 32 accumulators by t & 31 keeps them in memory, a load and a store each) */
        float P[32][64];
        for (int i0 = 0; i0 < hd; i0 += 64) {
            for (int c = 0; c < 32; c++) {
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int t = c; t < n; t += 32) {
                    const float *v = V + (int64_t)t * hd + i0;
                    const __m256 p = _mm256_set1_ps(sc[t]);
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(v), p, a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 8), p, a1);
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 16), p, a2);
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 24), p, a3);
                    a4 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 32), p, a4);
                    a5 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 40), p, a5);
                    a6 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 48), p, a6);
                    a7 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 56), p, a7);
                }
                _mm256_storeu_ps(P[c], a0); _mm256_storeu_ps(P[c] + 8, a1); _mm256_storeu_ps(P[c] + 16, a2);
                _mm256_storeu_ps(P[c] + 24, a3); _mm256_storeu_ps(P[c] + 32, a4); _mm256_storeu_ps(P[c] + 40, a5);
                _mm256_storeu_ps(P[c] + 48, a6); _mm256_storeu_ps(P[c] + 56, a7);
            }
            for (int d = 0; d < 64; d += 8) {
                __m256 R[8];
                for (int l = 0; l < 8; l++)
                    R[l] = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(P[l] + d), _mm256_loadu_ps(P[16 + l] + d)),
                                         _mm256_add_ps(_mm256_loadu_ps(P[8 + l] + d), _mm256_loadu_ps(P[24 + l] + d)));
                const __m256 a = _mm256_add_ps(_mm256_add_ps(R[0], R[4]), _mm256_add_ps(R[1], R[5]));
                const __m256 b = _mm256_add_ps(_mm256_add_ps(R[2], R[6]), _mm256_add_ps(R[3], R[7]));
                _mm256_storeu_ps(o + i0 + d, _mm256_add_ps(a, b));
            }
        }
        return;
    }
    for (int i0 = 0; i0 < hd; i0 += 8) {
        __m256 P[32];
        for (int j = 0; j < 32; j++) P[j] = _mm256_setzero_ps();
        for (int t = 0; t < n; t++)
            P[t & 31] = _mm256_fmadd_ps(_mm256_loadu_ps(V + (int64_t)t * hd + i0), _mm256_set1_ps(sc[t]), P[t & 31]);
        __m256 R[8];
        for (int l = 0; l < 8; l++) R[l] = _mm256_add_ps(_mm256_add_ps(P[l], P[16 + l]), _mm256_add_ps(P[8 + l], P[24 + l]));
        const __m256 a = _mm256_add_ps(_mm256_add_ps(R[0], R[4]), _mm256_add_ps(R[1], R[5]));
        const __m256 b = _mm256_add_ps(_mm256_add_ps(R[2], R[6]), _mm256_add_ps(R[3], R[7]));
        _mm256_storeu_ps(o + i0, _mm256_add_ps(a, b));
    }
}
#endif

static void rows_units(const void *ctx, int64_t r0, int64_t r1) {
    const RowsJob *J = (const RowsJob *)ctx;
    const Mat *M = J->M;
    int64_t r = r0;
    if (M->g) { /* units are groups of four rows */
#ifdef TMAC_X86
        if (J->isa == ISA_AVX2 || J->isa == ISA_AVX512) {
            (M->packed4 ? q4_groups_avx2 : M->q5 ? q5_groups_avx2 : q8_groups_avx2)(M, J->A, r0, r1, J->y);
            return;
        }
#endif
        for (r = r0 * G4_ROWS; r < r1 * G4_ROWS; r++) J->y[r] = q8_row_scalar(M, J->A, r);
        return;
    }
#ifdef TMAC_X86
    if (M->kind == MAT_Q8 && M->packed4 && (J->isa == ISA_AVX2 || J->isa == ISA_AVX512)) {
        for (; r < r1; r += 4) q4_rows_avx2(M, J->A, r, r1 - r < 4 ? (int)(r1 - r) : 4, J->y + r);
        return;
    }
    if (M->kind == MAT_Q8 && (J->isa == ISA_AVX2 || J->isa == ISA_AVX512))
        for (; r + 4 <= r1; r += 4) q8_rows4_avx2(M, J->A, r, J->y + r);
#endif
    for (; r < r1; r++) {
#ifdef TMAC_X86
        if (J->isa == ISA_AVX2 || J->isa == ISA_AVX512) {
            J->y[r] = M->kind == MAT_Q8 ? q8_row_avx2(M, J->A, r) : dense_row_avx2(M, J->A, r);
            continue;
        }
#endif
        J->y[r] = M->kind == MAT_Q8 ? q8_row_scalar(M, J->A, r) : dense_row_scalar(M, J->A, r);
    }
}

/* Bytes of weights a product reads: what decides whether a second thread pays for its hand-off. */
static int64_t mat_bytes(const Mat *M) {
    if (M->kind == MAT_TMAC)
        return (M->n / tile_rows(M->bits)) * (M->k / M->block) *
               (tile_rows(M->bits) * 2 * (1 + M->has_min) + (M->block / GROUP) * GROUP_BYTES);
    if (M->kind == MAT_Q8 && M->g) return M->n / G4_ROWS * (M->k / 32) * g4_record(M);
    if (M->kind == MAT_Q8) return M->n * M->k + M->n * (M->k / M->block) * 4 * (1 + (M->m != NULL));
    return M->n * M->k * (M->kind == MAT_F16 ? 2 : 4);
}

/* One more thread per MIN_BYTES_PER_THREAD of weights: below that (the tiny ternary model's matrices: 17-100 KB)
 * handing part of a product to another thread costs about what the part itself does. */
#define MIN_BYTES_PER_THREAD 65536
static int threads_for(const Decoder *D, const Mat *M) {
    const int64_t t = 1 + mat_bytes(M) / MIN_BYTES_PER_THREAD;
    return t < D->threads ? (int)t : D->threads;
}

/* y[out_off : out_off + n] = M x for the prepared activation vector. */
static void matvec(Decoder *D, const Mat *M, float *y) {
    const int threads = threads_for(D, M);
    if (M->kind == MAT_TMAC) {
        act_tables(D);
        Problem P;
        memset(&P, 0, sizeof P);
        P.bits = M->bits;
        P.has_min = M->has_min;
        P.zero = M->zero;
        P.n_tiles = M->n / tile_rows(M->bits);
        P.k = M->k;
        P.block = M->block;
        P.m = 1;
        P.isa = D->isa;
        P.tile_bytes_per_block = tile_rows(M->bits) * 2 * (1 + M->has_min) + (M->block / GROUP) * GROUP_BYTES;
        P.w = M->w;
        P.tables = D->a.tq;
        P.scales = D->a.tscales;
        P.c15 = D->a.tc15;
        P.xsum = D->a.txsum;
        P.y = y + M->out_off;
        pool_run(&P, threads);
        return;
    }
    /* a K-quant matrix (not fp16_act; k a multiple of 256 as its super-blocks are) reads block_q8_K activations */
    Act K;
    const Act *A = &D->a;
    if (M->kind == MAT_Q8 && !M->fp16_act && M->k % 256 == 0) {
        act_q8k(D);
        K = D->a;
        K.xq = K.kq;
        K.xs = K.ks;
        K.xsum16 = K.ksum16;
        A = &K;
    } else if (M->kind == MAT_Q8) act_q8(D);
    const RowsJob R = {M, A, y + M->out_off, D->isa};
    /* about eight claims per thread, in whole groups of four rows (q8_rows4_avx2's; the group layout's units) */
    const int64_t grain = M->g ? 0 : ((M->n / (8 * (int64_t)threads) + 3) / 4) * 4;
    const Job J = {rows_units, &R, M->g ? M->n / G4_ROWS : M->n, grain};
    pool_run_job(&J, threads);
}

static void slot_matvec(Decoder *D, const Mat *parts, const float *x, int64_t k, float *y) {
    act_reset(&D->a, x, k);
    for (int i = 0; i < MAX_PARTS; i++)
        if (parts[i].used) matvec(D, &parts[i], y);
}

static void embed_row(const Decoder *D, int token, float *x) {
    const Mat *E = &D->embed;
    const int64_t k = E->k;
    if (E->kind == MAT_F32) { memcpy(x, E->f + (int64_t)token * k, k * sizeof(float)); return; }
    if (E->kind == MAT_F16) {
        for (int64_t i = 0; i < k; i++) x[i] = fp16_to_fp32(E->h[(int64_t)token * k + i]);
        return;
    }
    for (int64_t i = 0; i < k; i++) {
        const int64_t b = i / E->block;
        x[i] = mat_scale(E, token, b) * (float)mat_code(E, token, i) + mat_min(E, token, b);
    }
}

/* Rotate heads in place: llama's GGUF rows rotate adjacent pairs (2i, 2i+1); qwen2's the halves (i, i + dim/2). */
static void rope(const Decoder *D, float *v, int n_heads, int pos) {
    const int half = D->head_dim / 2;
    const float *c = D->rope_cos + (int64_t)pos * half, *s = D->rope_sin + (int64_t)pos * half;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + h * D->head_dim;
        for (int i = 0; i < half; i++) {
            const int ia = D->interleaved ? 2 * i : i, ib = D->interleaved ? 2 * i + 1 : i + half;
            const float a = x[ia], b = x[ib];
            /* ggml's rotate_pairs, as GCC contracts it (ggml builds with -ffp-contract=fast): the first product of
             * each line fused with the rounded second */
            x[ia] = fmaf(a, c[i], -(b * s[i]));
            x[ib] = fmaf(a, s[i], b * c[i]);
        }
    }
}

typedef struct {
    const Decoder *D;
    int layer, pos, batch;
    const float *q;
    float *out;
} AttnJob;

static void attn_units(const void *ctx, int64_t h0, int64_t h1) {
    const AttnJob *J = (const AttnJob *)ctx;
    const Decoder *D = J->D;
    const int hd = D->head_dim, group = D->heads / D->kv_heads, n = J->pos + 1;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int64_t h = h0; h < h1; h++) {
        const int64_t base = ((int64_t)J->layer * D->kv_heads + h / group) * D->n_ctx * hd;
        const float *K = D->kcache + base, *V = D->vcache + base, *q = J->q + h * hd;
        float *sc = D->scores + h * (int64_t)(D->n_ctx + 8), mx = -INFINITY;
#ifdef TMAC_X86
        if ((D->isa == ISA_AVX2 || D->isa == ISA_AVX512) && hd % 8 == 0) {
            attn_head_ggml(q, K, V, n, hd, scale, sc, J->out + h * hd, D->kv_f16, J->batch, D->qh + h * hd);
            continue;
        }
#endif
        for (int t = 0; t < n; t++) {
            float dot = 0.0f;
            for (int i = 0; i < hd; i++) dot += q[i] * K[(int64_t)t * hd + i];
            sc[t] = dot * scale;
            if (sc[t] > mx) mx = sc[t];
        }
        float sum = 0.0f;
        for (int t = 0; t < n; t++) { sc[t] = expf(sc[t] - mx); sum += sc[t]; }
        float *o = J->out + h * hd;
        for (int i = 0; i < hd; i++) o[i] = 0.0f;
        for (int t = 0; t < n; t++) {
            const float p = sc[t] / sum;
            const float *v = V + (int64_t)t * hd;
            for (int i = 0; i < hd; i++) o[i] += p * v[i];
        }
    }
}

/* One token at position `pos` (the cache holds positions 0..pos-1); logits written when `logits` is not NULL. */
static void decoder_step_c(Decoder *D, int token, int pos, float *logits, int batch) {
    const int hd = D->head_dim, qn = D->heads * hd, kvn = D->kv_heads * hd;
    float *x = D->x;
    embed_row(D, token, x);
    for (int l = 0; l < D->layers; l++) {
        const Layer *L = &D->layer[l];
        rms_norm(x, L->vec[VEC_ATTN_NORM], D->h, D->hidden, D->eps);
        slot_matvec(D, L->parts[SLOT_QKV], D->h, D->hidden, D->qkv);
        if (L->vec[VEC_QKV_BIAS])
            for (int i = 0; i < qn + 2 * kvn; i++) D->qkv[i] += L->vec[VEC_QKV_BIAS][i];
        float *q = D->qkv, *k = D->qkv + qn, *v = D->qkv + qn + kvn;
        rope(D, q, D->heads, pos);
        rope(D, k, D->kv_heads, pos);
        for (int g = 0; g < D->kv_heads; g++) {
            const int64_t at = (((int64_t)l * D->kv_heads + g) * D->n_ctx + pos) * hd;
            memcpy(D->kcache + at, k + g * hd, hd * sizeof(float));
            memcpy(D->vcache + at, v + g * hd, hd * sizeof(float));
            if (D->kv_f16)
                for (int i = 0; i < hd; i++) {
                    D->kcache[at + i] = fp16_round(D->kcache[at + i]);
                    D->vcache[at + i] = fp16_round(D->vcache[at + i]);
                }
        }
        const AttnJob A = {D, l, pos, batch, q, D->att};
        const Job J = {attn_units, &A, D->heads, 1};
        pool_run_job(&J, pos >= 256 ? D->threads : 1); /* short contexts: not worth a wake-up */
        slot_matvec(D, L->parts[SLOT_O], D->att, qn, D->tmp);
        for (int i = 0; i < D->hidden; i++) x[i] += D->tmp[i];
        rms_norm(x, L->vec[VEC_FFN_NORM], D->h, D->hidden, D->eps);
        slot_matvec(D, L->parts[SLOT_GU], D->h, D->hidden, D->gu);
#ifdef TMAC_X86
        if (D->isa == ISA_AVX2 || D->isa == ISA_AVX512)
            swiglu_avx2(D->gu, D->gu + D->ffn, D->act, D->ffn);
        else
#endif
            for (int i = 0; i < D->ffn; i++) {
                const float g = D->gu[i];
                D->act[i] = g / (1.0f + expf(-g)) * D->gu[D->ffn + i];
            }
        slot_matvec(D, L->parts[SLOT_DOWN], D->act, D->ffn, D->tmp);
        for (int i = 0; i < D->hidden; i++) x[i] += D->tmp[i];
    }
    if (!logits) return;
    rms_norm(x, D->out_norm, D->h, D->hidden, D->eps);
    act_reset(&D->a, D->h, D->hidden);
    matvec(D, &D->head, logits);
}

/* --------------------------------------------------------------------------------------- Python edge */

#define DECODER_CAPSULE "edgemind.tmac.Decoder"

static void decoder_free(PyObject *cap) {
    Decoder *D = (Decoder *)PyCapsule_GetPointer(cap, DECODER_CAPSULE);
    if (!D) return;
    for (int i = 0; i < D->n_bufs; i++) PyBuffer_Release(&D->bufs[i]);
    if (D->layer)
        for (int l = 0; l < D->layers; l++)
            for (int s = 0; s < N_SLOTS; s++)
                for (int p = 0; p < MAX_PARTS; p++) free(D->layer[l].parts[s][p].own);
    free(D->embed.own);
    free(D->head.own);
    free(D->layer);
    free(D->kcache);
    free(D->vcache);
    free(D->x);
    free(D->a.tq);
    free(D->a.xq);
    free(D->a.kq);
    free(D->own_rope);
    free(D);
}

static Decoder *get_decoder(PyObject *cap) {
    Decoder *D = (Decoder *)PyCapsule_GetPointer(cap, DECODER_CAPSULE);
    if (D && D->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this decoder is already running a step in another thread");
        return NULL;
    }
    return D;
}

/* decoder_new(layers, hidden, heads, kv_heads, head_dim, ffn, vocab, n_ctx, eps, interleaved, threads[, rope_base,
 * kv_f16]): with rope_base the decoder builds llama.cpp's RoPE tables itself (rope_tables_ggml), else set_vector
 * hands them; kv_f16 rounds the cache as llama.cpp's default f16 cache holds it. */
static PyObject *py_decoder_new(PyObject *self, PyObject *args) {
    int layers, hidden, heads, kv_heads, head_dim, ffn, vocab, n_ctx, interleaved, threads;
    float eps, rope_base = 0.0f;
    int kv_f16 = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "iiiiiiiifpi|fp", &layers, &hidden, &heads, &kv_heads, &head_dim, &ffn, &vocab, &n_ctx,
                          &eps, &interleaved, &threads, &rope_base, &kv_f16))
        return NULL;
    if (layers < 1 || hidden < 32 || hidden % 32 || heads < 1 || kv_heads < 1 || heads % kv_heads ||
        head_dim < 2 || head_dim % 2 || ffn < 32 || ffn % 32 || vocab < 1 || n_ctx < 1 || threads < 1 ||
        heads * head_dim % 32) {
        PyErr_Format(PyExc_ValueError, "decoder shape not supported (layers=%d hidden=%d heads=%d kv_heads=%d "
                     "head_dim=%d ffn=%d vocab=%d n_ctx=%d threads=%d; sizes must be multiples of 32)", layers,
                     hidden, heads, kv_heads, head_dim, ffn, vocab, n_ctx, threads);
        return NULL;
    }
    const int isa = chosen_isa();
    if (isa < 0) return NULL;
    Decoder *D = (Decoder *)calloc(1, sizeof(Decoder));
    if (!D) return PyErr_NoMemory();
    D->layers = layers; D->hidden = hidden; D->heads = heads; D->kv_heads = kv_heads; D->head_dim = head_dim;
    D->ffn = ffn; D->vocab = vocab; D->n_ctx = n_ctx; D->eps = eps; D->interleaved = interleaved;
    D->threads = threads; D->isa = isa; D->kv_f16 = kv_f16;
    const int64_t cache = (int64_t)layers * kv_heads * n_ctx * head_dim;
    const int64_t qkv = (int64_t)(heads + 2 * kv_heads) * head_dim, big = hidden > ffn ? hidden : ffn;
    const int64_t maxk = big > heads * head_dim ? big : heads * head_dim;
    D->layer = (Layer *)calloc(layers, sizeof(Layer));
    D->kcache = (float *)calloc(cache, sizeof(float));
    D->vcache = (float *)calloc(cache, sizeof(float));
    /* x, h, qkv, att, tmp, gu, act, scores in one block */
    const int64_t floats = 2 * (int64_t)hidden + qkv + (int64_t)heads * head_dim + hidden + 2 * (int64_t)ffn + ffn +
                           (int64_t)heads * (n_ctx + 8) + (int64_t)heads * head_dim;
    D->x = (float *)calloc(floats, sizeof(float));
    D->a.tq = (int8_t *)malloc(maxk / GROUP * TABLE);
    D->a.xq = (int8_t *)malloc(maxk + 16 + (maxk / CHUNK) * 6 * 4 + (maxk / 16) * 4);
    /* K-quant codes (maxk rounded up to 256), then d per 32 and d * bsum per 16 */
    const int64_t maxk256 = (maxk + 255) / 256 * 256;
    D->a.kq = (int8_t *)malloc(maxk256 + maxk256 / 32 * 4 + maxk256 / 16 * 4);
    if (!D->layer || !D->kcache || !D->vcache || !D->x || !D->a.tq || !D->a.xq || !D->a.kq) {
        PyObject *tmp = PyCapsule_New(D, DECODER_CAPSULE, decoder_free);
        Py_XDECREF(tmp);
        return PyErr_NoMemory();
    }
    if (rope_base > 0.0f) {
        D->own_rope = (float *)malloc((size_t)n_ctx * head_dim * sizeof(float));
        if (!D->own_rope) {
            PyObject *tmp = PyCapsule_New(D, DECODER_CAPSULE, decoder_free);
            Py_XDECREF(tmp);
            return PyErr_NoMemory();
        }
        rope_tables_ggml(D->own_rope, D->own_rope + (int64_t)n_ctx * (head_dim / 2), n_ctx, head_dim / 2, rope_base);
        D->rope_cos = D->own_rope;
        D->rope_sin = D->own_rope + (int64_t)n_ctx * (head_dim / 2);
    }
    D->h = D->x + hidden; D->qkv = D->h + hidden; D->att = D->qkv + qkv; D->tmp = D->att + heads * head_dim;
    D->gu = D->tmp + hidden; D->act = D->gu + 2 * ffn; D->scores = D->act + ffn;
    D->qh = D->scores + (int64_t)heads * (n_ctx + 8);
    /* int8 activations, then (4-byte aligned) the per-32 table scales, c15, table xsums, q8 scales, per-16 sums,
     * fp16-rounded q8 scales and sums per 32 */
    float *f = (float *)(D->a.xq + ((maxk + 15) / 16) * 16);
    D->a.tscales = f; D->a.tc15 = (int32_t *)(f + maxk / CHUNK); D->a.txsum = f + 2 * (maxk / CHUNK);
    D->a.xs = f + 3 * (maxk / CHUNK); D->a.xsum16 = f + 4 * (maxk / CHUNK);
    D->a.xd16 = f + 6 * (maxk / CHUNK); D->a.xs16 = f + 7 * (maxk / CHUNK);
    D->a.ks = (float *)(D->a.kq + maxk256);
    D->a.ksum16 = D->a.ks + maxk256 / 32;
    return PyCapsule_New(D, DECODER_CAPSULE, decoder_free);
}

/* Keep a contiguous buffer of exactly `need` bytes for the model's life; NULL with a one-line error otherwise. */
static const void *keep(Decoder *D, PyObject *obj, Py_ssize_t need, const char *what) {
    if (obj == Py_None) return NULL;
    if (D->n_bufs >= (int)(sizeof D->bufs / sizeof D->bufs[0])) {
        PyErr_SetString(PyExc_ValueError, "too many buffers for one decoder");
        return NULL;
    }
    Py_buffer *b = &D->bufs[D->n_bufs];
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS) != 0) return NULL;
    if (b->len != need) {
        PyErr_Format(PyExc_ValueError, "%s has %zd bytes, expected %zd", what, b->len, need);
        PyBuffer_Release(b);
        return NULL;
    }
    D->n_bufs++;
    return b->buf;
}

/* Check a buffer's size, without keeping it: 1, or 0 with a one-line error (the buffer then released). */
static int borrow(PyObject *obj, Py_ssize_t need, const char *what, Py_buffer *b) {
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS) != 0) return 0;
    if (b->len == need) return 1;
    PyErr_Format(PyExc_ValueError, "%s has %zd bytes, expected %zd", what, b->len, need);
    PyBuffer_Release(b);
    return 0;
}

/* m (its shape and flags set) in the group layout, repacked from the caller's q / scales / mins, which are not kept.
 * A global matrix (embedding, LM head) whose records equal the other's shares them (a tied head). 1; -1 when a scale
 * or min is not an fp16 value (the row layout then); 0 with a one-line error. */
static int set_g4(Decoder *D, Mat *m, const Mat *slot, PyObject *data, PyObject *so, PyObject *mo) {
    Py_buffer qb, sb, mb;
    const int64_t n = m->n, k = m->k;
    if (!borrow(data, m->packed4 ? n * k / 2 : n * k, m->packed4 ? "Q4_1 nibbles" : "int8 codes", &qb)) return 0;
    if (!borrow(so, n * (k / m->block) * 4, "int8 scales", &sb)) { PyBuffer_Release(&qb); return 0; }
    if (m->has_min && !borrow(mo, n * (k / m->block) * 4, "int8 mins", &mb)) {
        PyBuffer_Release(&qb);
        PyBuffer_Release(&sb);
        return 0;
    }
    if (m->fp16_act && (!g4_fp16_exact((const float *)sb.buf, n * (k / 32)) ||
                        (m->has_min && !g4_fp16_exact((const float *)mb.buf, n * (k / 32))))) {
        PyBuffer_Release(&qb);
        PyBuffer_Release(&sb);
        if (m->has_min) PyBuffer_Release(&mb);
        return -1;
    }
    if (m->fp16_act && !m->packed4 && !m->has_min) { /* 5 bits a code where they all fit */
        const int8_t *c = (const int8_t *)qb.buf;
        m->q5 = 1;
        for (int64_t i = 0; i < n * k && m->q5; i++) m->q5 = c[i] >= -16 && c[i] <= 15;
    }
    Mat src = *m; /* the caller's buffers in the row layout */
    src.q = (const int8_t *)qb.buf;
    src.s = (const float *)sb.buf;
    src.m = m->has_min ? (const float *)mb.buf : NULL;
    const Mat *other = slot == &D->embed ? &D->head : slot == &D->head ? &D->embed : NULL;
    if (other && other->used && other->g && other->kind == MAT_Q8 && other->packed4 == m->packed4 &&
        other->fp16_act == m->fp16_act && other->block == m->block && other->has_min == m->has_min &&
        other->q5 == m->q5 &&
        other->n == n && other->k == k && g4_same(&src, other)) {
        m->g = other->g;
        m->own = NULL;
    } else {
        uint8_t *raw;
        m->g = g4_repack(&src, &raw);
        m->own = raw;
    }
    PyBuffer_Release(&qb);
    PyBuffer_Release(&sb);
    if (m->has_min) PyBuffer_Release(&mb);
    if (!m->g) {
        PyErr_NoMemory();
        return 0;
    }
    return 1;
}

/* set_matrix(dec, layer (-1: global), slot (global: 0 embed, 1 head), part, out_off, kind, n, k, bits, block, zero,
 *            has_min, data, scales, mins, fp16_act, packed4) */
static PyObject *py_decoder_set_matrix(PyObject *self, PyObject *args) {
    PyObject *cap, *data, *so, *mo;
    int layer, slot, part, kind, bits, zero, has_min, fp16_act = 0, packed4 = 0;
    Py_ssize_t out_off, n, k, block;
    (void)self;
    if (!PyArg_ParseTuple(args, "OiiininninipOOO|pp", &cap, &layer, &slot, &part, &out_off, &kind, &n, &k, &bits,
                          &block, &zero, &has_min, &data, &so, &mo, &fp16_act, &packed4))
        return NULL;
    Decoder *D = get_decoder(cap);
    if (!D) return NULL;
    Mat *M;
    if (layer == -1 && (slot == 0 || slot == 1) && part == 0) M = slot == 0 ? &D->embed : &D->head;
    else if (layer >= 0 && layer < D->layers && slot >= 0 && slot < N_SLOTS && part >= 0 && part < MAX_PARTS)
        M = &D->layer[layer].parts[slot][part];
    else {
        PyErr_Format(PyExc_ValueError, "no matrix slot layer=%d slot=%d part=%d", layer, slot, part);
        return NULL;
    }
    if (n < 1 || k < 32 || k % 32 || out_off < 0) {
        PyErr_Format(PyExc_ValueError, "matrix of %zd x %zd at %zd: rows >= 1, columns a multiple of 32", n, k,
                     out_off);
        return NULL;
    }
    Mat m;
    memset(&m, 0, sizeof m);
    m.kind = kind; m.n = n; m.k = k; m.out_off = out_off; m.bits = bits; m.block = block; m.zero = zero;
    m.has_min = has_min;
    if (kind == MAT_TMAC) {
        if ((bits != 1 && bits != 2 && bits != 4) || block < CHUNK || block % CHUNK || k % block ||
            n % tile_rows(bits) || zero < 0 || zero > 15) {
            PyErr_Format(PyExc_ValueError, "T-MAC matrix: bad bits=%d block=%zd n=%zd k=%zd", bits, block, n, k);
            return NULL;
        }
        const int64_t rec = tile_rows(bits) * 2 * (1 + has_min) + (block / GROUP) * GROUP_BYTES;
        m.w = keep(D, data, (n / tile_rows(bits)) * (k / block) * rec, "T-MAC weights");
        if (!m.w) return NULL;
    } else if (kind == MAT_Q8) {
        if ((block != 16 && block != 32) || k % block || ((fp16_act || packed4) && block != 32) ||
            (packed4 && (!fp16_act || !has_min))) {
            PyErr_Format(PyExc_ValueError, "int8 matrix: block must be 16 or 32 (32 with fp16 activations; packed "
                         "nibbles are Q4_1's, with mins), got %zd", block);
            return NULL;
        }
        m.fp16_act = fp16_act;
        m.packed4 = packed4;
        if (g4_eligible(packed4, fp16_act, has_min, block, n)) {
            const int got = set_g4(D, &m, M, data, so, mo);
            if (got == 0) return NULL;
            if (got == 1) goto done;
        }
        m.q = keep(D, data, packed4 ? n * k / 2 : n * k, packed4 ? "Q4_1 nibbles" : "int8 codes");
        m.s = m.q ? keep(D, so, n * (k / block) * 4, "int8 scales") : NULL;
        if (!m.s) return NULL;
        if (has_min && !(m.m = keep(D, mo, n * (k / block) * 4, "int8 mins"))) return NULL;
    } else if (kind == MAT_F32) {
        if (!(m.f = keep(D, data, n * k * 4, "fp32 weights"))) return NULL;
    } else if (kind == MAT_F16) {
        if (!(m.h = keep(D, data, n * k * 2, "fp16 weights"))) return NULL;
    } else {
        PyErr_Format(PyExc_ValueError, "unknown matrix kind %d", kind);
        return NULL;
    }
done:
    m.used = 1;
    if (M->own) { /* a slot set again: its old records go, or pass to the other global matrix sharing them */
        Mat *other = M == &D->embed ? &D->head : M == &D->head ? &D->embed : NULL;
        if (other && other->g == M->g && !other->own) other->own = M->own;
        else free(M->own);
    }
    *M = m;
    Py_RETURN_NONE;
}

/* set_vector(dec, layer (-1: global), which, float32 buffer): per layer attn_norm / ffn_norm / qkv bias; global
 * 0 output norm, 1 rope cos, 2 rope sin. */
static PyObject *py_decoder_set_vector(PyObject *self, PyObject *args) {
    PyObject *cap, *obj;
    int layer, which;
    (void)self;
    if (!PyArg_ParseTuple(args, "OiiO", &cap, &layer, &which, &obj)) return NULL;
    Decoder *D = get_decoder(cap);
    if (!D) return NULL;
    const int64_t qkv = (int64_t)(D->heads + 2 * D->kv_heads) * D->head_dim;
    const int64_t rope = (int64_t)D->n_ctx * (D->head_dim / 2);
    if (layer == -1 && which >= 0 && which <= 2) {
        const float *v = keep(D, obj, (which == 0 ? D->hidden : rope) * 4, "vector");
        if (!v) return NULL;
        if (which == 0) D->out_norm = v; else if (which == 1) D->rope_cos = v; else D->rope_sin = v;
    } else if (layer >= 0 && layer < D->layers && which >= 0 && which < N_VECS) {
        const float *v = keep(D, obj, (which == VEC_QKV_BIAS ? qkv : D->hidden) * 4, "vector");
        if (!v) return NULL;
        D->layer[layer].vec[which] = v;
    } else {
        PyErr_Format(PyExc_ValueError, "no vector slot layer=%d which=%d", layer, which);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Every piece a step reads is there, with matching shapes; else a one-line error naming the first gap. */
static int decoder_complete(const Decoder *D) {
    const int64_t qkv = (int64_t)(D->heads + 2 * D->kv_heads) * D->head_dim, qn = (int64_t)D->heads * D->head_dim;
    if (!D->embed.used || D->embed.kind == MAT_TMAC || D->embed.k != D->hidden || D->embed.n != D->vocab) {
        PyErr_SetString(PyExc_ValueError, "decoder: the token embedding is missing or of the wrong shape");
        return 0;
    }
    if (!D->head.used || D->head.k != D->hidden || D->head.n != D->vocab || !D->out_norm || !D->rope_cos ||
        !D->rope_sin) {
        PyErr_SetString(PyExc_ValueError, "decoder: the output norm, LM head or RoPE tables are missing");
        return 0;
    }
    const int64_t need_k[N_SLOTS] = {D->hidden, qn, D->hidden, D->ffn};
    const int64_t need_n[N_SLOTS] = {qkv, D->hidden, 2 * (int64_t)D->ffn, D->hidden};
    for (int l = 0; l < D->layers; l++) {
        const Layer *L = &D->layer[l];
        if (!L->vec[VEC_ATTN_NORM] || !L->vec[VEC_FFN_NORM]) {
            PyErr_Format(PyExc_ValueError, "decoder: layer %d lacks a norm", l);
            return 0;
        }
        for (int s = 0; s < N_SLOTS; s++) {
            int64_t rows = 0;
            for (int p = 0; p < MAX_PARTS; p++) {
                const Mat *M = &L->parts[s][p];
                if (!M->used) continue;
                if (M->k != need_k[s] || M->out_off + M->n > need_n[s]) {
                    PyErr_Format(PyExc_ValueError, "decoder: layer %d slot %d part %d has the wrong shape", l, s, p);
                    return 0;
                }
                rows += M->n;
            }
            if (rows != need_n[s]) {
                PyErr_Format(PyExc_ValueError, "decoder: layer %d slot %d covers %lld of %lld rows", l, s,
                             (long long)rows, (long long)need_n[s]);
                return 0;
            }
        }
    }
    return 1;
}

/* run(dec, tokens int32 buffer, pos0, logits float32 [vocab] or None[, batch]): tokens at positions pos0.. ; logits
 * of the last one. batch: attention as llama.cpp computes a batch of tokens, in batches of LLAMA_BATCH as it splits
 * a prompt (a batch of one is a decode step); else every token as a decode step. The GIL is released for the run. */
#define LLAMA_BATCH 512
static PyObject *py_decoder_run(PyObject *self, PyObject *args) {
    PyObject *cap, *to, *lo;
    int pos0, batch = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOiO|p", &cap, &to, &pos0, &lo, &batch)) return NULL;
    Decoder *D = get_decoder(cap);
    if (!D || !decoder_complete(D)) return NULL;
    Py_buffer tb, lb;
    if (PyObject_GetBuffer(to, &tb, PyBUF_C_CONTIGUOUS) != 0) return NULL;
    const int n = (int)(tb.len / 4);
    const int32_t *tokens = (const int32_t *)tb.buf;
    if (tb.len % 4 || n < 1 || pos0 < 0 || (int64_t)pos0 + n > D->n_ctx) {
        PyErr_Format(PyExc_ValueError, "%d tokens at position %d do not fit the %d-position cache", n, pos0,
                     D->n_ctx);
        PyBuffer_Release(&tb);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= D->vocab) {
            PyErr_Format(PyExc_ValueError, "token id %d is outside the vocabulary of %d", tokens[i], D->vocab);
            PyBuffer_Release(&tb);
            return NULL;
        }
    float *logits = NULL;
    if (lo != Py_None) {
        if (PyObject_GetBuffer(lo, &lb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0) { PyBuffer_Release(&tb); return NULL; }
        if (lb.len != (Py_ssize_t)D->vocab * 4) {
            PyErr_Format(PyExc_ValueError, "logits has %zd bytes, expected %lld", lb.len, (long long)D->vocab * 4);
            PyBuffer_Release(&lb);
            PyBuffer_Release(&tb);
            return NULL;
        }
        logits = (float *)lb.buf;
    }
    D->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < n; i++) {
        const int start = i / LLAMA_BATCH * LLAMA_BATCH, size = n - start < LLAMA_BATCH ? n - start : LLAMA_BATCH;
        decoder_step_c(D, tokens[i], pos0 + i, i == n - 1 ? logits : NULL, batch && size >= 2);
    }
    Py_END_ALLOW_THREADS
    D->busy = 0;
    if (logits) PyBuffer_Release(&lb);
    PyBuffer_Release(&tb);
    Py_RETURN_NONE;
}

/* matvec(dec, layer, slot, x float32 [k], y float32 [rows]): one slot's product alone, for the tests that hold each
 * layout to numpy (the step never calls this). */
static PyObject *py_decoder_matvec(PyObject *self, PyObject *args) {
    PyObject *cap, *xo, *yo;
    int layer, slot;
    (void)self;
    if (!PyArg_ParseTuple(args, "OiiOO", &cap, &layer, &slot, &xo, &yo)) return NULL;
    Decoder *D = get_decoder(cap);
    if (!D) return NULL;
    const Mat *parts;
    if (layer == -1 && slot == 1) parts = &D->head;
    else if (layer >= 0 && layer < D->layers && slot >= 0 && slot < N_SLOTS) parts = D->layer[layer].parts[slot];
    else {
        PyErr_Format(PyExc_ValueError, "no matrix slot layer=%d slot=%d", layer, slot);
        return NULL;
    }
    if (!parts[0].used) {
        PyErr_SetString(PyExc_ValueError, "that slot has no matrix");
        return NULL;
    }
    const int64_t maxk = D->hidden > D->ffn ? D->hidden : D->ffn;
    if (parts[0].k > maxk && parts[0].k > (int64_t)D->heads * D->head_dim) {
        PyErr_Format(PyExc_ValueError, "a matrix of %lld columns is wider than this decoder's vectors",
                     (long long)parts[0].k);
        return NULL;
    }
    int64_t rows = 0;
    const int n_parts = layer == -1 ? 1 : MAX_PARTS;
    for (int p = 0; p < n_parts; p++)
        if (parts[p].used) rows += parts[p].n;
    Py_buffer xb, yb;
    if (PyObject_GetBuffer(xo, &xb, PyBUF_C_CONTIGUOUS) != 0) return NULL;
    if (PyObject_GetBuffer(yo, &yb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0) { PyBuffer_Release(&xb); return NULL; }
    if (xb.len != parts[0].k * 4 || yb.len != rows * 4) {
        PyErr_Format(PyExc_ValueError, "x must be %lld floats and y %lld", (long long)parts[0].k, (long long)rows);
        PyBuffer_Release(&xb);
        PyBuffer_Release(&yb);
        return NULL;
    }
    D->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    act_reset(&D->a, (const float *)xb.buf, parts[0].k);
    for (int p = 0; p < n_parts; p++)
        if (parts[p].used) matvec(D, &parts[p], (float *)yb.buf);
    Py_END_ALLOW_THREADS
    D->busy = 0;
    PyBuffer_Release(&xb);
    PyBuffer_Release(&yb);
    Py_RETURN_NONE;
}

#version 450
/* mul_mat.comp: tiled weight matrix times activation matrix (prefill).
 *
 *   y[t][row0 + r] = sum_k W[r][k] * x[t][k]  (+ bias[row0 + r])  (+ y[t][row0 + r])
 *   for t < n_tok, r < n_rows (the rows of one part of the matrix).
 *
 * Bindings, push constants and the ALIGN bits are those of mul_mat_vec.comp:
 *   0  W     weights of this part, [n_rows][n_in] in the TYPE_* format
 *   1  x     f32 [n_tok][x_stride]
 *   2  y     f32 [n_tok][y_stride]; read too when accumulating
 *   3  bias  f32 [>= row0 + n_rows]; read only with FLAG_BIAS (else any view)
 * Push constants: n_in, n_rows, row0, x_stride, y_stride, n_tok, flags.
 * Specialization constants:
 *   0  workgroup size: 64 = (BM / TM) * (BN / TN) with shared tiles; any
 *      size in direct mode
 *   1  ALIGN bits (1: x rows on 16 bytes, 2: weight rows on 16 bytes)
 *   2  DIRECT: 0 = shared tiles (GPUs), 1 = direct (software Vulkan)
 * Grid: x and z count tiles of weight rows (tile = z * groups_x + x, so that
 * more than 65535 tiles fit), y counts tiles of tokens. A tile is BM rows x
 * BN tokens with shared tiles, (workgroup size * TM) rows x TN tokens in
 * direct mode.
 *
 * Shared tiles: for each 32-wide slice of k the workgroup dequantizes the
 * BM x 32 weights and loads the BN x 32 activations into shared memory
 * (16 KiB; vec4 k of row m sits at m * 8 + (k ^ (m % 8)), a swizzle against
 * bank conflicts), then each thread accumulates its TM x TN outputs: rows
 * tm + i * (BM / TM) and tokens tn + j * (BN / TN).
 * Direct: each invocation dequantizes its own TM rows straight into
 * registers and dots them with TN activation rows it loads itself: no
 * shared memory and no barrier. On software Vulkan every shared-memory
 * access costs as much as a buffer load, so reuse from registers wins.
 *
 * Rows and tokens past the end load the last valid one and store nothing;
 * k past n_in (float types, n_in % 32 != 0) reads as zero.
 */
#include "dequant.glsl"
#extension GL_EXT_control_flow_attributes : require

#define BM 64
#define BN 64
#define TM 8
#define TN 8
#define THREADS_M (BM / TM)
#define THREADS_N (BN / TN)
#ifndef DTM
#define DTM 8 /* direct mode: rows per invocation */
#endif
#ifndef DTN
#define DTN 8 /* direct mode: tokens per invocation */
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ALIGN = 0;
layout(constant_id = 2) const uint DIRECT = 0;

const bool X_ALIGNED = (ALIGN & 1u) != 0u;
const bool W_ALIGNED = (ALIGN & 2u) != 0u;

#define FLAG_BIAS 1u
#define FLAG_ACCUMULATE 2u

layout(std430, binding = 1) readonly restrict buffer X { float x[]; };
layout(std430, binding = 1) readonly restrict buffer XVec4 { vec4 x4[]; };
layout(std430, binding = 2) restrict buffer Y { float y[]; };
layout(std430, binding = 3) readonly restrict buffer Bias { float bias[]; };

layout(push_constant) uniform Push {
    uint n_in;
    uint n_rows;
    uint row0;
    uint x_stride;
    uint y_stride;
    uint n_tok;
    uint flags;
} pc;

shared vec4 w_tile[BM * 8]; /* [BM][32 k], swizzled */
shared vec4 x_tile[BN * 8]; /* [BN][32 k], swizzled */

uint tile_index(uint m, uint k4) { return m * 8u + (k4 ^ (m & 7u)); }

/* x[t][32 chunk ..] as 8 vec4, for a whole chunk (32 chunk + 32 <= n_in). */
void load_x_whole_chunk(uint t, uint chunk, out vec4 v[8])
{
    const uint e = t * pc.x_stride + 32u * chunk;
    if (X_ALIGNED) {
        for (int i = 0; i < 8; i++)
            v[i] = x4[e / 4u + i];
    } else {
        for (int i = 0; i < 8; i++) {
            const uint k = e + 4u * i;
            v[i] = vec4(x[k], x[k + 1u], x[k + 2u], x[k + 3u]);
        }
    }
}

/* x[t][32 chunk ..] as 8 vec4; zero past n_in (float types only). */
void load_x_chunk(uint t, uint chunk, out vec4 v[8])
{
#if QK == 1
    if (32u * chunk + 32u > pc.n_in) {
        for (int i = 0; i < 8; i++)
            for (int c = 0; c < 4; c++) {
                const uint k = 32u * chunk + 4u * i + c;
                v[i][c] = k < pc.n_in ? x[t * pc.x_stride + k] : 0.0;
            }
        return;
    }
#endif
    load_x_whole_chunk(t, chunk, v);
}

/* W[row][32 chunk ..] as 8 vec4; zero past n_in (float types only). */
void load_w_chunk(uint row, uint chunk, out vec4 v[8])
{
#if QK == 1
    if (32u * chunk + 32u > pc.n_in) {
        for (int i = 0; i < 8; i++)
            for (int c = 0; c < 4; c++) {
                const uint k = 32u * chunk + 4u * i + c;
                v[i][c] = k < pc.n_in ? dequant_one(row, k, pc.n_in) : 0.0;
            }
        return;
    }
#endif
    dequant_chunk(row, chunk, pc.n_in, W_ALIGNED, v);
}

/* y[t][row0 + r] = sum (+ bias) (+ y), for r < n_rows and t < n_tok only. */
void store_result(uint r, uint t, float sum)
{
    if (r >= pc.n_rows || t >= pc.n_tok)
        return;
    const uint out_index = t * pc.y_stride + pc.row0 + r;
    if ((pc.flags & FLAG_BIAS) != 0u)
        sum += bias[pc.row0 + r];
    if ((pc.flags & FLAG_ACCUMULATE) != 0u)
        sum += y[out_index];
    y[out_index] = sum;
}

/* Each thread: rows m0 + tm + i * THREADS_M, tokens n0 + tn + j * THREADS_N. */
void shared_tiles(uint m0, uint n0)
{
    const uint tid = gl_LocalInvocationID.x;
    const uint tm = tid % THREADS_M, tn = tid / THREADS_M;
    const uint n_chunks = (pc.n_in + 31u) / 32u;

    float acc[TM][TN];
    for (int i = 0; i < TM; i++)
        for (int j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    [[dont_unroll]] for (uint c = 0; c < n_chunks; c++) {
        barrier(); /* everyone is done with the previous tiles */
        for (uint m = tid; m < BM; m += gl_WorkGroupSize.x) {
            vec4 v[8];
            load_w_chunk(min(m0 + m, pc.n_rows - 1u), c, v);
            for (uint k4 = 0; k4 < 8u; k4++)
                w_tile[tile_index(m, k4)] = v[k4];
        }
        for (uint n = tid; n < BN; n += gl_WorkGroupSize.x) {
            vec4 v[8];
            load_x_chunk(min(n0 + n, pc.n_tok - 1u), c, v);
            for (uint k4 = 0; k4 < 8u; k4++)
                x_tile[tile_index(n, k4)] = v[k4];
        }
        barrier(); /* the tiles are written */

        [[dont_unroll]] for (uint k4 = 0; k4 < 8u; k4++) {
            vec4 wv[TM], xv[TN];
            for (int i = 0; i < TM; i++)
                wv[i] = w_tile[tile_index(tm + i * THREADS_M, k4)];
            for (int j = 0; j < TN; j++)
                xv[j] = x_tile[tile_index(tn + j * THREADS_N, k4)];
            for (int i = 0; i < TM; i++)
                for (int j = 0; j < TN; j++)
                    acc[i][j] += dot(wv[i], xv[j]);
        }
    }

    for (int i = 0; i < TM; i++)
        for (int j = 0; j < TN; j++)
            store_result(m0 + tm + i * THREADS_M, n0 + tn + j * THREADS_N, acc[i][j]);
}

/* Each invocation: rows m0 + DTM * local + i, tokens n0 + j. */
void direct(uint m0, uint n0)
{
    const uint first_row = m0 + DTM * gl_LocalInvocationID.x;
    const uint n_chunks = pc.n_in / 32u; /* whole chunks; the float types' tail follows */
    uint rows[DTM];
    for (int i = 0; i < DTM; i++)
        rows[i] = min(first_row + i, pc.n_rows - 1u);
    uint toks[DTN];
    for (int j = 0; j < DTN; j++)
        toks[j] = min(n0 + j, pc.n_tok - 1u);

    float acc[DTM][DTN];
    for (int i = 0; i < DTM; i++)
        for (int j = 0; j < DTN; j++)
            acc[i][j] = 0.0;

    [[dont_unroll]] for (uint c = 0; c < n_chunks; c++) {
        vec4 wv[DTM][8];
        for (int i = 0; i < DTM; i++)
            dequant_chunk(rows[i], c, pc.n_in, W_ALIGNED, wv[i]);
        for (int j = 0; j < DTN; j++) {
            vec4 xv[8];
            load_x_whole_chunk(toks[j], c, xv);
            for (int i = 0; i < DTM; i++) {
                vec4 s = wv[i][0] * xv[0];
                for (int k4 = 1; k4 < 8; k4++)
                    s = fma(wv[i][k4], xv[k4], s);
                acc[i][j] += (s.x + s.y) + (s.z + s.w);
            }
        }
    }
#if QK == 1
    [[dont_unroll]] for (uint k = 32u * n_chunks; k < pc.n_in; k++) {
        float wk[DTM];
        for (int i = 0; i < DTM; i++)
            wk[i] = dequant_one(rows[i], k, pc.n_in);
        for (int j = 0; j < DTN; j++) {
            const float xk = x[toks[j] * pc.x_stride + k];
            for (int i = 0; i < DTM; i++)
                acc[i][j] += wk[i] * xk;
        }
    }
#endif

    for (int i = 0; i < DTM; i++)
        for (int j = 0; j < DTN; j++)
            store_result(first_row + i, n0 + j, acc[i][j]);
}

void main()
{
    const uint tile_rows = DIRECT != 0u ? gl_WorkGroupSize.x * DTM : BM;
    const uint tile_tokens = DIRECT != 0u ? DTN : BN;
    const uint m0 = (gl_WorkGroupID.z * gl_NumWorkGroups.x + gl_WorkGroupID.x) * tile_rows;
    const uint n0 = gl_WorkGroupID.y * tile_tokens;
    if (m0 >= pc.n_rows || n0 >= pc.n_tok)
        return; /* the whole workgroup */
    if (DIRECT != 0u)
        direct(m0, n0);
    else
        shared_tiles(m0, n0);
}

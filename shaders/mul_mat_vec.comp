#version 450
/* mul_mat_vec.comp: weight matrix times a few activation rows (decode).
 *
 *   y[t][row0 + r] = sum_k W[r][k] * x[t][k]  (+ bias[row0 + r])  (+ y[t][row0 + r])
 *   for t < n_tok, r < n_rows (the rows of one part of the matrix).
 *
 * With -DGLU (the fused SwiGLU of the FFN, variants mul_mat_vec_glu_<type>):
 *
 *   y[t][row0 + r] = silu(G[r] . x[t]) * (U[r] . x[t]),  silu(g) = g / (1 + exp(-g))
 *
 * for two matrices of the same type and shape, split into the same parts.
 *
 * Bindings:
 *   0  W     weights of this part, [n_rows][n_in] in the TYPE_* format (dequant.glsl);
 *            GLU: the gate matrix G
 *   1  x     f32 [n_tok][x_stride]
 *   2  y     f32 [n_tok][y_stride], y_stride >= row0 + n_rows; read too when accumulating
 *   3  bias  f32 [>= row0 + n_rows]; read only when flags has FLAG_BIAS (the host
 *            binds x here when there is no bias)
 *      GLU: the up matrix U's part, laid out as binding 0; no bias, no accumulate
 * Push constants: n_in, n_rows, row0, x_stride, y_stride, n_tok, flags (0 for GLU).
 * Specialization constants:
 *   0  workgroup size (a multiple of ROW_THREADS)
 *   1  ROWS_PER_THREAD
 *   2  ROW_THREADS: threads that share one row (a power of two); they take
 *      32-element chunks of the row in turn and add up through shared memory.
 *      1 on software Vulkan: every invocation owns whole rows, no barrier.
 *   3  ALIGN bits: 1 = x rows start on 16 bytes (x_stride % 4 == 0, vec4
 *      loads), 2 = weight rows start on 16 bytes (float types)
 * A workgroup owns (workgroup size / ROW_THREADS) * ROWS_PER_THREAD rows; the
 * workgroup index is gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x
 * (grids over 65535 spill into y), and workgroups past the last row exit.
 *
 * Each thread dequantizes its rows chunk by chunk and dots them with the
 * chunk of x, which it loads once for all its rows. Tokens are done one
 * after the other (the weights are re-read per token; n_tok is small here).
 */
#include "dequant.glsl"
#extension GL_EXT_control_flow_attributes : require

#if defined(GLU)
/* The up matrix: dequant.glsl once more, every global name given the suffix
 * _up, and its weight buffers moved to binding 3 (a second layout qualifier
 * on the same declaration overrides the first's binding: GLSL 4.50, 4.4).
 * A name dequant.glsl gains later must join this list (glslc then fails
 * with a redefinition). */
#define readonly readonly layout(binding = 3)
#define block_t block_t_up
#define WeightQuads WeightQuads_up
#define WeightF32 WeightF32_up
#define WeightVec4 WeightVec4_up
#define WeightHalves WeightHalves_up
#define WeightBlocks WeightBlocks_up
#define wq4 wq4_up
#define wf32 wf32_up
#define wv4 wv4_up
#define w16 w16_up
#define blocks blocks_up
#define bytes_u bytes_u_up
#define bytes_s bytes_s_up
#define nibbles nibbles_up
#define bit0s bit0s_up
#define low4bits low4bits_up
#define load_window8 load_window8_up
#define load_window12 load_window12_up
#define realign_8_4 realign_8_4_up
#define realign_8_5 realign_8_5_up
#define realign_8_6 realign_8_6_up
#define realign_12_5 realign_12_5_up
#define realign_12_8 realign_12_8_up
#define half_at_8 half_at_8_up
#define half_at_12 half_at_12_up
#define load_header_stream load_header_stream_up
#define scale_min_k4 scale_min_k4_up
#define IQ4NL_0 IQ4NL_0_up
#define IQ4NL_1 IQ4NL_1_up
#define IQ4NL_2 IQ4NL_2_up
#define IQ4NL_3 IQ4NL_3_up
#define iq4nl_value iq4nl_value_up
#define iq4nl_values iq4nl_values_up
#define dequant_chunk dequant_chunk_up
#define dequant_one dequant_one_up
#include "dequant.glsl"
#undef readonly
#undef block_t
#undef WeightQuads
#undef WeightF32
#undef WeightVec4
#undef WeightHalves
#undef WeightBlocks
#undef wq4
#undef wf32
#undef wv4
#undef w16
#undef blocks
#undef bytes_u
#undef bytes_s
#undef nibbles
#undef bit0s
#undef low4bits
#undef load_window8
#undef load_window12
#undef realign_8_4
#undef realign_8_5
#undef realign_8_6
#undef realign_12_5
#undef realign_12_8
#undef half_at_8
#undef half_at_12
#undef load_header_stream
#undef scale_min_k4
#undef IQ4NL_0
#undef IQ4NL_1
#undef IQ4NL_2
#undef IQ4NL_3
#undef iq4nl_value
#undef iq4nl_values
#undef dequant_chunk
#undef dequant_one
#define N_MATS 2u /* gate, up */
#else
#define N_MATS 1u
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS_PER_THREAD = 1;
layout(constant_id = 2) const uint ROW_THREADS = 32;
layout(constant_id = 3) const uint ALIGN = 0;

const bool X_ALIGNED = (ALIGN & 1u) != 0u;
const bool W_ALIGNED = (ALIGN & 2u) != 0u;

#define FLAG_BIAS 1u
#define FLAG_ACCUMULATE 2u

layout(std430, binding = 1) readonly restrict buffer X { float x[]; };
layout(std430, binding = 1) readonly restrict buffer XVec4 { vec4 x4[]; };
layout(std430, binding = 2) restrict buffer Y { float y[]; };
#if !defined(GLU)
layout(std430, binding = 3) readonly restrict buffer Bias { float bias[]; };
#endif

layout(push_constant) uniform Push {
    uint n_in;
    uint n_rows;
    uint row0;
    uint x_stride;
    uint y_stride;
    uint n_tok;
    uint flags;
} pc;

/* partial sums, [N_MATS][ROWS_PER_THREAD][workgroup size] */
shared float partial[N_MATS * ROWS_PER_THREAD * gl_WorkGroupSize.x];

/* The 32 activations x[t][32 chunk ..] as 8 vec4. */
void load_x_chunk(uint t, uint chunk, out vec4 v[8])
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

/* The dot of 32 weights with 32 activations. */
float dot32(vec4 w[8], vec4 v[8])
{
    vec4 s = w[0] * v[0];
    for (int i = 1; i < 8; i++)
        s = fma(w[i], v[i], s);
    return (s.x + s.y) + (s.z + s.w);
}

/* Row r of token t from its dot(s): sum = W[r] . x[t]; GLU: sum = G[r] . x[t]
 * and up_sum = U[r] . x[t] (unused otherwise). */
void store_result(uint t, uint r, float sum, float up_sum)
{
    const uint out_index = t * pc.y_stride + pc.row0 + r;
#if defined(GLU)
    y[out_index] = sum / (1.0 + exp(-sum)) * up_sum;
#else
    if ((pc.flags & FLAG_BIAS) != 0u)
        sum += bias[pc.row0 + r];
    if ((pc.flags & FLAG_ACCUMULATE) != 0u)
        sum += y[out_index];
    y[out_index] = sum;
#endif
}

void main()
{
    const uint wg_size = gl_WorkGroupSize.x;
    const uint tid = gl_LocalInvocationID.x;
    const uint lane = tid % ROW_THREADS;
    const uint rows_per_wg = (wg_size / ROW_THREADS) * ROWS_PER_THREAD;
    const uint wg = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (wg * rows_per_wg >= pc.n_rows)
        return; /* the whole workgroup: no barrier is left waiting */
    const uint first_row = wg * rows_per_wg + (tid / ROW_THREADS) * ROWS_PER_THREAD;
    const uint n_chunks = pc.n_in / 32u;

    /* rows past the end read the last row; their sums are dropped */
    uint rows[ROWS_PER_THREAD];
    for (uint j = 0; j < ROWS_PER_THREAD; j++)
        rows[j] = min(first_row + j, pc.n_rows - 1u);

    for (uint t = 0; t < pc.n_tok; t++) {
        /* acc[m * ROWS_PER_THREAD + j]: matrix m's dot for row j */
        float acc[N_MATS * ROWS_PER_THREAD];
        for (uint j = 0; j < N_MATS * ROWS_PER_THREAD; j++)
            acc[j] = 0.0;

        [[dont_unroll]] for (uint c = lane; c < n_chunks; c += ROW_THREADS) {
            vec4 xv[8];
            load_x_chunk(t, c, xv);
            for (uint j = 0; j < ROWS_PER_THREAD; j++) {
                vec4 wv[8];
                dequant_chunk(rows[j], c, pc.n_in, W_ALIGNED, wv);
                acc[j] += dot32(wv, xv);
#if defined(GLU)
                dequant_chunk_up(rows[j], c, pc.n_in, W_ALIGNED, wv);
                acc[ROWS_PER_THREAD + j] += dot32(wv, xv);
#endif
            }
        }
#if QK == 1
        /* float types: the last n_in % 32 elements, one by one */
        if (lane == n_chunks % ROW_THREADS) {
            for (uint k = 32u * n_chunks; k < pc.n_in; k++) {
                const float xk = x[t * pc.x_stride + k];
                for (uint j = 0; j < ROWS_PER_THREAD; j++) {
                    acc[j] += dequant_one(rows[j], k, pc.n_in) * xk;
#if defined(GLU)
                    acc[ROWS_PER_THREAD + j] += dequant_one_up(rows[j], k, pc.n_in) * xk;
#endif
                }
            }
        }
#endif

        if (ROW_THREADS == 1u) {
            for (uint j = 0; j < ROWS_PER_THREAD; j++)
                if (first_row + j < pc.n_rows)
                    store_result(t, first_row + j, acc[j],
                                 acc[(N_MATS - 1u) * ROWS_PER_THREAD + j]);
            continue;
        }

        barrier(); /* the previous token's sums have been read */
        for (uint j = 0; j < N_MATS * ROWS_PER_THREAD; j++)
            partial[j * wg_size + tid] = acc[j];
        for (uint s = ROW_THREADS / 2u; s > 0u; s /= 2u) {
            barrier(); /* the partial sums of the step before are written */
            if (lane < s)
                for (uint j = 0; j < N_MATS * ROWS_PER_THREAD; j++)
                    partial[j * wg_size + tid] += partial[j * wg_size + tid + s];
        }
        barrier(); /* the totals are written */
        for (uint j = lane; j < ROWS_PER_THREAD; j += ROW_THREADS)
            if (first_row + j < pc.n_rows)
                store_result(t, first_row + j, partial[j * wg_size + tid - lane],
                             partial[((N_MATS - 1u) * ROWS_PER_THREAD + j) * wg_size + tid - lane]);
    }
}

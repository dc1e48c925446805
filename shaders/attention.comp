#version 450
/* attention.comp: causal multi-head attention over an f16 KV cache with
 * GQA and an online (FlashAttention-style) softmax: no score buffer, any
 * context length.
 *
 * A workgroup owns up to ROWS query rows that share one KV head: heads_per_wg
 * consecutive heads of one GQA group times toks_per_wg consecutive tokens
 * (row r = local token r / heads_per_wg, local head r % heads_per_wg), so
 * each key and value it loads serves all those rows. It walks the keys in
 * chunks of 2 * WG:
 *   1. thread j scores keys j and WG + j of the chunk against every row (q
 *      pre-scaled by scale * log2(e), held in shared memory); a key past a
 *      row's position scores MASKED;
 *   2. WG / ROWS threads per row reduce the row's chunk max;
 *   3. the same threads turn scores into p = exp2(s - m) under the row's new
 *      running max m, reduce the chunk sums, and keep the running sum l;
 *   4. thread (vec4 columns 2c and 2c+1, part k) rescales its accumulators
 *      by exp2(m_old - m) and adds p_j * v_j[col] for the keys j = k (mod
 *      parts) of the chunk, for every row: one V load serves all rows.
 * Each thread works on 2 keys (step 1) or 2 columns (step 4) at once so
 * that a shared-memory load of q or p serves two multiply-adds.
 * Finally the parts' accumulators are summed and out = acc / l. Token t
 * (0-based in the batch) sits at position pos0 + t and sees keys
 * 0..pos0 + t.
 *
 * Bindings:
 *   0  q        f32 [n_tok][n_head][head_dim]
 *   1  k_cache  f16 [n_ctx][n_head_kv][head_dim]   (read as 4 halves per uvec2)
 *   2  v_cache  f16 [n_ctx][n_head_kv][head_dim]
 *   3  out      f32 [n_tok][n_head][head_dim]
 * Push constants: n_tok, pos0, n_head, n_head_kv, head_dim (a multiple of 4,
 * <= 256), scale, heads_per_wg, toks_per_wg (heads_per_wg * toks_per_wg <=
 * ROWS).
 * Workgroups: x = kv head * head_chunks + chunk (head_chunks =
 * ceil(group / heads_per_wg)), y = token tile of toks_per_wg tokens.
 * Spec constant 0: workgroup size WG (half the keys per chunk), a power of
 * two >= 64.
 */
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;

const uint ROWS = 8;                 /* query rows per workgroup, at most */
const uint MAX_D4 = 64;              /* head_dim / 4, at most */
const uint CHUNK = 2 * WG;          /* keys per chunk */
const uint THREADS_PER_ROW = WG / ROWS;
const uint KEYS_PER_THREAD = 2 * ROWS; /* CHUNK / THREADS_PER_ROW */
const float MASKED = -1.0e30;        /* score of a key a row may not see */

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };
layout(std430, binding = 1) readonly buffer K { uvec2 k_cache[]; };
layout(std430, binding = 2) readonly buffer V { uvec2 v_cache[]; };
layout(std430, binding = 3) writeonly buffer O { vec4 o[]; };

layout(push_constant) uniform Push {
    uint n_tok;
    uint pos0;
    uint n_head;
    uint n_head_kv;
    uint head_dim;
    float scale;
    uint heads_per_wg;
    uint toks_per_wg;
} pc;

shared vec4 q_tile[ROWS * MAX_D4];  /* scaled queries [row][d4]; at the end, the output sums */
shared float p_tile[ROWS * CHUNK];  /* scores, then probabilities, [row][key] */
shared float chunk_max[ROWS * THREADS_PER_ROW];
shared float chunk_sum[ROWS * THREADS_PER_ROW];
shared float row_alpha[ROWS];       /* exp2(m_old - m_new) of the current chunk */
shared float row_sum[ROWS];         /* l, written at the end */

vec4 load_half4(uvec2 h) { return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y)); }

uint first_head; /* head of row 0 */
uint first_tok;  /* token of row 0 */
uint heads_here; /* heads this workgroup owns */

bool row_valid(uint r)
{
    return r < heads_here * pc.toks_per_wg && first_tok + r / heads_here < pc.n_tok;
}
/* Index of row r's [head_dim] vector in q and out, in vec4s. */
uint row_offset(uint r)
{
    const uint t = first_tok + r / heads_here;
    const uint h = first_head + r % heads_here;
    return (t * pc.n_head + h) * (pc.head_dim / 4);
}
/* Last key position row r may see, or -1 for an unused row. */
int row_last_key(uint r)
{
    return row_valid(r) ? int(pc.pos0 + first_tok + r / heads_here) : -1;
}

void main()
{
    const uint tid = gl_LocalInvocationID.x;
    const uint group = pc.n_head / pc.n_head_kv;
    const uint head_chunks = (group + pc.heads_per_wg - 1) / pc.heads_per_wg;
    const uint kv_head = gl_WorkGroupID.x / head_chunks;
    const uint chunk = gl_WorkGroupID.x % head_chunks;
    first_head = kv_head * group + chunk * pc.heads_per_wg;
    heads_here = min(pc.heads_per_wg, group - chunk * pc.heads_per_wg);
    first_tok = gl_WorkGroupID.y * pc.toks_per_wg;
    const uint d4 = pc.head_dim / 4;
    const uint kv_stride = pc.n_head_kv * d4; /* uvec2s per cache row */
    const uint kv_base = kv_head * d4;

    uint n_rows = 0; /* rows in use: 0..n_rows-1 (valid rows are a prefix) */
    int last_key[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        last_key[r] = row_last_key(r);
        if (last_key[r] >= 0)
            n_rows = r + 1;
    }
    const uint n_keys = uint(last_key[n_rows - 1] + 1);

    const float q_scale = pc.scale * 1.4426950408889634; /* exp -> exp2 */
    for (uint idx = tid; idx < ROWS * d4; idx += WG) {
        const uint r = idx / d4, c = idx % d4;
        q_tile[r * MAX_D4 + c] = r < n_rows ? q[row_offset(r) + c] * q_scale : vec4(0.0);
    }

    /* Steps 2-3: this thread's row and its keys sm_part * KEYS_PER_THREAD + 0.. */
    const uint sm_row = tid / THREADS_PER_ROW, sm_part = tid % THREADS_PER_ROW;
    const uint sm_keys = sm_row * CHUNK + sm_part * KEYS_PER_THREAD;
    float sm_max = MASKED, sm_sum = 0.0;
    /* Step 4: this thread's vec4 columns pv_col0, pv_col1 (pv_col1 repeats
     * pv_col0 when d4 is odd, and is then not written) and its keys
     * pv_part + n_parts * i. */
    const uint n_pairs = (d4 + 1) / 2;
    const uint n_parts = WG / n_pairs;
    const uint pv_part = tid / n_pairs;
    const uint pv_col0 = 2 * (tid % n_pairs), pv_col1 = min(pv_col0 + 1, d4 - 1);
    const bool pv_active = pv_part < n_parts;
    vec4 acc0[ROWS], acc1[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        acc0[r] = vec4(0.0);
        acc1[r] = vec4(0.0);
    }
    barrier(); /* q_tile is complete */

    for (uint key0 = 0; key0 < n_keys; key0 += CHUNK) {
        /* 1. scores of keys key0 + tid and key0 + WG + tid against every row
         * (a key past the end is read clamped and masked below) */
        const uint key_a = key0 + tid, key_b = key0 + WG + tid;
        const uint base_a = min(key_a, n_keys - 1) * kv_stride + kv_base;
        const uint base_b = min(key_b, n_keys - 1) * kv_stride + kv_base;
        float score_a[ROWS], score_b[ROWS];
        [[unroll]] for (uint r = 0; r < ROWS; r++) {
            score_a[r] = 0.0;
            score_b[r] = 0.0;
        }
        for (uint c = 0; c < d4; c++) {
            const vec4 ka = load_half4(k_cache[base_a + c]);
            const vec4 kb = load_half4(k_cache[base_b + c]);
            [[unroll]] for (uint r = 0; r < ROWS; r++) {
                if (r < n_rows) {
                    const vec4 qv = q_tile[r * MAX_D4 + c];
                    score_a[r] += dot(qv, ka);
                    score_b[r] += dot(qv, kb);
                }
            }
        }
        [[unroll]] for (uint r = 0; r < ROWS; r++) {
            p_tile[r * CHUNK + tid] = int(key_a) <= last_key[r] ? score_a[r] : MASKED;
            p_tile[r * CHUNK + WG + tid] = int(key_b) <= last_key[r] ? score_b[r] : MASKED;
        }
        barrier(); /* scores are complete */

        /* 2. partial max of each row */
        float part_max = MASKED;
        [[unroll]] for (uint j = 0; j < KEYS_PER_THREAD; j++)
            part_max = max(part_max, p_tile[sm_keys + j]);
        chunk_max[sm_row * THREADS_PER_ROW + sm_part] = part_max;
        barrier(); /* chunk_max is complete */

        /* 3. probabilities and partial sums under the new running max */
        float m_new = sm_max;
        for (uint u = 0; u < THREADS_PER_ROW; u++)
            m_new = max(m_new, chunk_max[sm_row * THREADS_PER_ROW + u]);
        const float alpha = exp2(sm_max - m_new);
        sm_max = m_new;
        float part_sum = 0.0;
        [[unroll]] for (uint j = 0; j < KEYS_PER_THREAD; j++) {
            const float s = p_tile[sm_keys + j];
            const float p = s == MASKED ? 0.0 : exp2(s - m_new);
            p_tile[sm_keys + j] = p;
            part_sum += p;
        }
        chunk_sum[sm_row * THREADS_PER_ROW + sm_part] = part_sum;
        if (sm_part == 0)
            row_alpha[sm_row] = alpha;
        barrier(); /* probabilities, chunk_sum and row_alpha are complete */

        if (sm_part == 0) { /* the running sum l of the row */
            float s = 0.0;
            for (uint u = 0; u < THREADS_PER_ROW; u++)
                s += chunk_sum[sm_row * THREADS_PER_ROW + u];
            sm_sum = sm_sum * alpha + s;
        }

        /* 4. rescale and accumulate p * v */
        if (pv_active) {
            [[unroll]] for (uint r = 0; r < ROWS; r++) {
                if (r < n_rows) {
                    acc0[r] *= row_alpha[r];
                    acc1[r] *= row_alpha[r];
                }
            }
            const uint keys_here = min(CHUNK, n_keys - key0);
            for (uint j = pv_part; j < keys_here; j += n_parts) {
                const uint vbase = (key0 + j) * kv_stride + kv_base;
                const vec4 v0 = load_half4(v_cache[vbase + pv_col0]);
                const vec4 v1 = load_half4(v_cache[vbase + pv_col1]);
                [[unroll]] for (uint r = 0; r < ROWS; r++) {
                    if (r < n_rows) {
                        const float p = p_tile[r * CHUNK + j];
                        acc0[r] += p * v0;
                        acc1[r] += p * v1;
                    }
                }
            }
        }
        barrier(); /* p_tile, chunk_max, chunk_sum and row_alpha are reused */
    }

    /* Sum the parts' accumulators into q_tile, one part after the other. */
    if (sm_part == 0)
        row_sum[sm_row] = sm_sum;
    const bool second_col = pv_col0 + 1 < d4;
    for (uint part = 0; part < n_parts; part++) {
        if (pv_part == part) {
            [[unroll]] for (uint r = 0; r < ROWS; r++) {
                if (r < n_rows) {
                    const uint i = r * MAX_D4 + pv_col0;
                    q_tile[i] = (part == 0 ? vec4(0.0) : q_tile[i]) + acc0[r];
                    if (second_col)
                        q_tile[i + 1] = (part == 0 ? vec4(0.0) : q_tile[i + 1]) + acc1[r];
                }
            }
        }
        barrier(); /* this part's sums are in */
    }
    for (uint idx = tid; idx < n_rows * d4; idx += WG) {
        const uint r = idx / d4, c = idx % d4;
        o[row_offset(r) + c] = q_tile[r * MAX_D4 + c] / row_sum[r];
    }
}

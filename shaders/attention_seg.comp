#version 450
/* attention_seg.comp: non-causal multi-head attention restricted to
 * segments (the vision encoders: a token sees every token of its own
 * segment, none of another; segments are temporal groups or windows), f32
 * q/k/v, with an online softmax: no score buffer, any segment length.
 *
 * The host cuts every segment into tiles of at most WG query rows
 * (vk_attention_seg_tiles); workgroup (tile, head) gives one query row to
 * each thread. A thread keeps its scaled query and its output accumulator
 * in registers and walks the tile's key range one key at a time: score s,
 * new running max m' = max(m, s), then l = l exp2(m - m') + exp2(s - m')
 * and acc = acc exp2(m - m') + exp2(s - m') v. All threads of a workgroup
 * read the same key at the same time (uniform control flow: threads past
 * the tile's end repeat its last row and store nothing), so K and V come
 * from cache (lavapipe) or one broadcast load (GPUs); there is no shared
 * memory and no barrier. Finally out = acc / l. (One key at a time beat
 * blocks of 4 or 8 keys with one rescale each on lavapipe: the per-thread
 * state stays smaller.)
 *
 * Bindings:
 *   0  q      f32 [n_tok][stride] (head h at columns h * head_dim ..)
 *   1  k      f32 [n_tok][stride]
 *   2  v      f32 [n_tok][stride]
 *   3  out    f32 [n_tok][stride]
 *   4  tiles  int32 [n_tiles][4]: q_begin, q_end, k_begin, k_end
 *             (q_end - q_begin <= WG, k_end > k_begin)
 * Push constants: stride (in floats, a multiple of 4), scale.
 * Workgroups: x = tile, y = head. Spec constants: 0 the workgroup size WG,
 * 1 D4 = head_dim / 4.
 */
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
/* head_dim / 4: a constant, so the per-thread arrays live in registers and
 * the column loops unroll (software devices vectorize them well). */
layout(constant_id = 1) const uint D4 = 16;
const float NEG_INF = -1.0e30;

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };
layout(std430, binding = 1) readonly buffer K { vec4 k[]; };
layout(std430, binding = 2) readonly buffer V { vec4 v[]; };
layout(std430, binding = 3) writeonly buffer O { vec4 o[]; };
layout(std430, binding = 4) readonly buffer T { ivec4 tiles[]; };

layout(push_constant) uniform Push {
    uint stride;
    float scale;
} pc;

void main()
{
    const ivec4 tile = tiles[gl_WorkGroupID.x];
    const uint head = gl_WorkGroupID.y;
    /* Threads past the tile's last row compute a copy of it and store
     * nothing: the control flow stays uniform, so software devices load
     * each key once for all threads. */
    const bool row_valid = uint(tile.x) + gl_LocalInvocationID.x < uint(tile.y);
    const uint row = row_valid ? uint(tile.x) + gl_LocalInvocationID.x : uint(tile.y) - 1;
    const uint d4 = D4;
    const uint stride4 = pc.stride / 4;
    const uint col0 = head * d4;

    vec4 qr[D4], acc[D4];
    const float q_scale = pc.scale * 1.4426950408889634; /* exp -> exp2 */
    [[unroll]] for (uint c = 0; c < d4; c++) {
        qr[c] = q[row * stride4 + col0 + c] * q_scale;
        acc[c] = vec4(0.0);
    }
    float m = NEG_INF, l = 0.0;

    const uint k_end = uint(tile.w);
    for (uint key = uint(tile.z); key < k_end; key++) {
        const uint base = key * stride4 + col0;
        vec4 s4 = vec4(0.0);
        [[unroll]] for (uint c = 0; c < d4; c++)
            s4 += qr[c] * k[base + c];
        const float s = (s4.x + s4.y) + (s4.z + s4.w);
        const float m_new = max(m, s);
        const float alpha = exp2(m - m_new);
        const float p = exp2(s - m_new);
        m = m_new;
        l = l * alpha + p;
        [[unroll]] for (uint c = 0; c < d4; c++)
            acc[c] = acc[c] * alpha + p * v[base + c];
    }
    if (!row_valid)
        return;
    const float inv_l = 1.0 / l;
    [[unroll]] for (uint c = 0; c < d4; c++)
        o[row * stride4 + col0 + c] = acc[c] * inv_l;
}

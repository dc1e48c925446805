#version 450
/* rope.comp: rotary position embeddings, one invocation per pair slot.
 *
 * x is f32 [n_tok][n_heads][head_dim]; the first n_rot dims of every head
 * rotate, the rest stay as they are. Pair slot i (i < n_rot/2) rotates
 *   -DMODE_NORM:   dims (2i, 2i+1)                 (llama.cpp "normal" mode)
 *   -DMODE_NEOX:   dims (i, i + n_rot/2)           (HF rotate_half)
 *   -DMODE_MROPE:  NEOX dims; Qwen2-VL's multimodal rotary
 *   -DMODE_VISION: NEOX dims; Qwen2-VL vision encoder's 2D rotary
 * by angle = p * inv_freq[f]: (x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos).
 *
 * Position p and frequency index f of pair i of token t:
 *   NORM, NEOX: p = pos0 + t, f = i.
 *   MROPE:      f = i; with S = sections[0..3] and s = i % (S0+S1+S2+S3),
 *               p = pos[k][t] for the section k that s falls in (s < S0:
 *               k = 0 (t), s < S0+S1: k = 1 (h), s < S0+S1+S2: k = 2 (w),
 *               else k = 3). As HF apply_multimodal_rotary_pos_emb with
 *               mrope_section (sum = n_rot/2) and ggml's rope_multi.
 *   VISION:     q = n_rot/4 (n_rot % 4 == 0); i < q: p = pos[1][t] (row h),
 *               f = i; i >= q: p = pos[2][t] (column w), f = i - q.
 *               inv_freq is the vision rotary's own table, f32 [n_rot/4],
 *               theta^(-2j/(n_rot/2)) (HF VisionRotaryEmbedding(head_dim/2));
 *               sections[] are not read.
 *
 * -DKV_WRITE: x holds the new keys and is only read; the rotated keys (and
 * the dims past n_rot unchanged) go to k_cache row cache_pos0 + t as f16,
 * and v goes to v_cache row cache_pos0 + t as f16, in the same dispatch.
 * Pair slots i >= n_rot/2 copy the key dims n_rot + 2(i - n_rot/2) + {0,1};
 * every slot i copies the value dims 2i, 2i+1.
 *
 * Bindings (in this order, numbered from 0, absent ones skipped):
 *   x         f32 [n_tok][n_heads][head_dim]
 *   inv_freq  f32 [n_rot/2]  (VISION: [n_rot/4])
 *   pos       int32 [4][n_tok]                         (MROPE, VISION)
 *   v         f32 [n_tok][n_heads * head_dim]          (KV_WRITE)
 *   k_cache   f16 [n_ctx][n_heads * head_dim]          (KV_WRITE)
 *   v_cache   f16 [n_ctx][n_heads * head_dim]          (KV_WRITE)
 * Push constants: n_tok, n_heads, head_dim, n_rot, pos0, cache_pos0,
 * sections[4].
 * Invocations: g = (wg.y * num_wg.x + wg.x) * WG + tid over
 * n_tok * n_heads * head_dim/2 slots (slot i = g % (head_dim/2)).
 * Spec constant 0: workgroup size.
 */
#extension GL_EXT_shader_16bit_storage : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

#if defined(MODE_MROPE) || defined(MODE_VISION)
#define HAS_POS 1
#define BINDING_POS 2
#define BINDING_V 3
#else
#define HAS_POS 0
#define BINDING_V 2
#endif

#ifdef KV_WRITE
layout(std430, binding = 0) readonly buffer X { float x[]; };
#else
layout(std430, binding = 0) buffer X { float x[]; };
#endif
layout(std430, binding = 1) readonly buffer InvFreq { float inv_freq[]; };
#if HAS_POS
layout(std430, binding = BINDING_POS) readonly buffer Pos { int pos[]; };
#endif
#ifdef KV_WRITE
layout(std430, binding = BINDING_V) readonly buffer V { float v[]; };
layout(std430, binding = BINDING_V + 1) writeonly buffer KCache { float16_t k_cache[]; };
layout(std430, binding = BINDING_V + 2) writeonly buffer VCache { float16_t v_cache[]; };
#endif

layout(push_constant) uniform Push {
    uint n_tok;
    uint n_heads;
    uint head_dim;
    uint n_rot;
    int pos0;
    uint cache_pos0;
    uint sections[4];
} pc;

/* The rotation angle of pair slot i of token t. */
float rope_angle(uint t, uint i)
{
#if defined(MODE_NORM) || defined(MODE_NEOX)
    return float(pc.pos0 + int(t)) * inv_freq[i];
#elif defined(MODE_MROPE)
    const uint s0 = pc.sections[0], s1 = s0 + pc.sections[1], s2 = s1 + pc.sections[2];
    const uint sector = i % (s2 + pc.sections[3]);
    const uint k = sector < s0 ? 0 : sector < s1 ? 1 : sector < s2 ? 2 : 3;
    return float(pos[k * pc.n_tok + t]) * inv_freq[i];
#else /* MODE_VISION */
    const uint quarter = pc.n_rot / 4;
    if (i < quarter)
        return float(pos[pc.n_tok + t]) * inv_freq[i];
    return float(pos[2 * pc.n_tok + t]) * inv_freq[i - quarter];
#endif
}

void main()
{
    const uint half_dim = pc.head_dim / 2;
    const uint g = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG +
                   gl_LocalInvocationID.x;
    if (g >= pc.n_tok * pc.n_heads * half_dim)
        return;
    const uint i = g % half_dim;
    const uint row = g / half_dim; /* t * n_heads + head */
    const uint t = row / pc.n_heads;
    const uint base = row * pc.head_dim;
    const uint half_rot = pc.n_rot / 2;
#ifdef KV_WRITE
    const uint cache_base = (pc.cache_pos0 + t) * pc.n_heads * pc.head_dim +
                            (row % pc.n_heads) * pc.head_dim;
    v_cache[cache_base + 2 * i] = float16_t(v[base + 2 * i]);
    v_cache[cache_base + 2 * i + 1] = float16_t(v[base + 2 * i + 1]);
#endif

    if (i >= half_rot) {
#ifdef KV_WRITE
        const uint d = pc.n_rot + 2 * (i - half_rot);
        k_cache[cache_base + d] = float16_t(x[base + d]);
        k_cache[cache_base + d + 1] = float16_t(x[base + d + 1]);
#endif
        return;
    }

#ifdef MODE_NORM
    const uint d0 = 2 * i, d1 = 2 * i + 1;
#else
    const uint d0 = i, d1 = i + half_rot;
#endif
    const float angle = rope_angle(t, i);
    const float c = cos(angle), s = sin(angle);
    const float x0 = x[base + d0], x1 = x[base + d1];
    const float y0 = x0 * c - x1 * s;
    const float y1 = x0 * s + x1 * c;
#ifdef KV_WRITE
    k_cache[cache_base + d0] = float16_t(y0);
    k_cache[cache_base + d1] = float16_t(y1);
#else
    x[base + d0] = y0;
    x[base + d1] = y1;
#endif
}

/* dequant.glsl: the weight formats, shared by mul_mat_vec.comp, mul_mat.comp
 * and get_rows.comp. Exactly one TYPE_* define (set in meson) selects the
 * format; the layouts are ggml's, byte for byte (engine/quant.h).
 *
 * Binding 0 is the weight view: one part of a matrix (vk-ops.h), rows of
 * n_in elements back to back; the view offset is a multiple of 16 bytes and
 * the host binds the range rounded up to 16. The binding is declared several
 * times: as an array of the block structs below (the documented layout: with
 * std430 and 8/16-bit storage their array strides are ggml's block sizes,
 * 18, 20, 22, 24, 34, 144, 176, 210, as spirv-dis shows) and as uvec4, which
 * is how the shaders read it. Every field is fetched in whole 16-byte units
 * and shifted into place with selects (the "windows" below): on software
 * Vulkan each load instruction costs a loop over the lanes whatever its
 * width, so one 16-byte load beats four 4-byte or sixteen 1-byte ones, and
 * on GPUs 16-byte loads are the widest there are. Blocks of 18, 22, 34 and
 * 210 bytes start anywhere on an even byte of a 16-byte unit.
 *
 * What an includer gets:
 *   QK                 elements per block (1 for F32, F16, BF16)
 *   dequant_chunk(row, chunk, n_in, W_ALIGNED, v)
 *                      the 32 weights W[row][32 chunk .. 32 chunk + 31] of
 *                      this part (row counted from the part's first row) as
 *                      8 vec4, in element order; needs 32 chunk + 32 <= n_in.
 *                      W_ALIGNED: rows start on 16 bytes (float types only).
 *   dequant_one(row, k, n_in)
 *                      one weight, float types only (the tail of a row when
 *                      n_in is not a multiple of 32).
 * For the quantized types n_in is a multiple of QK (>= 32), so every chunk is
 * whole; a K-quant chunk is one 32-element sub-block.
 */
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_8bit_storage : require

/* ---- block layouts (ggml's field order) ---------------------------------- */

#if defined(TYPE_F32)
#define QK 1
#elif defined(TYPE_F16) || defined(TYPE_BF16)
#define QK 1
#elif defined(TYPE_Q4_0)
#define QK 32
#define BLOCK_BYTES 18
struct block_t { float16_t d; uint8_t qs[16]; };
#elif defined(TYPE_Q4_1)
#define QK 32
#define BLOCK_BYTES 20
struct block_t { float16_t d; float16_t m; uint8_t qs[16]; };
#elif defined(TYPE_Q5_0)
#define QK 32
#define BLOCK_BYTES 22
struct block_t { float16_t d; uint8_t qh[4]; uint8_t qs[16]; };
#elif defined(TYPE_Q5_1)
#define QK 32
#define BLOCK_BYTES 24
struct block_t { float16_t d; float16_t m; uint8_t qh[4]; uint8_t qs[16]; };
#elif defined(TYPE_Q8_0)
#define QK 32
#define BLOCK_BYTES 34
struct block_t { float16_t d; int8_t qs[32]; };
#elif defined(TYPE_IQ4_NL)
#define QK 32
#define BLOCK_BYTES 18
struct block_t { float16_t d; uint8_t qs[16]; };
#elif defined(TYPE_Q4_K)
#define QK 256
#define BLOCK_BYTES 144
struct block_t { float16_t d; float16_t dmin; uint8_t scales[12]; uint8_t qs[128]; };
#elif defined(TYPE_Q5_K)
#define QK 256
#define BLOCK_BYTES 176
struct block_t {
    float16_t d;
    float16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
#elif defined(TYPE_Q6_K)
#define QK 256
#define BLOCK_BYTES 210
struct block_t { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; float16_t d; };
#else
#error "define one TYPE_*"
#endif

/* ---- binding 0: the weights, as blocks and as words ------------------------ */

layout(std430, binding = 0) readonly restrict buffer WeightQuads { uvec4 wq4[]; };
#if defined(TYPE_F32)
layout(std430, binding = 0) readonly restrict buffer WeightF32 { float wf32[]; };
layout(std430, binding = 0) readonly restrict buffer WeightVec4 { vec4 wv4[]; };
#elif QK == 1
layout(std430, binding = 0) readonly restrict buffer WeightHalves { uint16_t w16[]; };
#else
layout(std430, binding = 0) readonly restrict buffer WeightBlocks { block_t blocks[]; };
#endif

/* ---- bit helpers ----------------------------------------------------------- */

/* The 4 bytes of w (low first), unsigned and signed. */
vec4 bytes_u(uint w) { return vec4(uvec4(w, w >> 8, w >> 16, w >> 24) & 0xFFu); }
vec4 bytes_s(uint w) { return vec4(ivec4(uvec4(w << 24, w << 16, w << 8, w)) >> 24); }
/* The low nibble of each byte of w. */
vec4 nibbles(uint w) { return vec4(uvec4(w, w >> 8, w >> 16, w >> 24) & 0xFu); }
/* Bit 0 of each byte of w. */
vec4 bit0s(uint w) { return vec4(uvec4(w, w >> 8, w >> 16, w >> 24) & 1u); }
/* Bits 0..3 of w, one per lane. */
vec4 low4bits(uint w) { return vec4(uvec4(w, w >> 1, w >> 2, w >> 3) & 1u); }

/* ---- windows: 16-byte loads, realigned in registers ------------------------
 * A field at byte offset o (even) of the view is read as the 2 or 3 uvec4
 * that cover it (a window of 8 or 12 words), then shifted down by the
 * o % 16 bytes in front of it with selects. Loads that would start past the
 * field's last byte re-read the uvec4 holding that byte instead, so nothing
 * past the block is touched beyond the 16-byte granule of its last byte. */

void load_window8(uint o, uint last, out uint a[8])
{
    const uint q = o >> 4;
    const uvec4 v0 = wq4[q], v1 = wq4[min(q + 1u, last >> 4)];
    a = uint[8](v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w);
}

void load_window12(uint o, uint last, out uint a[12])
{
    const uint q = o >> 4;
    const uvec4 v0 = wq4[q], v1 = wq4[min(q + 1u, last >> 4)], v2 = wq4[min(q + 2u, last >> 4)];
    a = uint[12](v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w, v2.x, v2.y, v2.z, v2.w);
}

/* s[j] = the 4 bytes at half-word h + 2 j of the window a, for j < NS
 * (h + 2 NS <= 2 NA): a shift by h / 2 words (three levels of selects) and,
 * for odd h, by one more half word. */
#define DEFINE_REALIGN(NAME, NA, NS)                                                       \
    void NAME(uint a[NA], uint h, out uint s[NS])                                          \
    {                                                                                      \
        const uint w0 = h >> 1;                                                            \
        uint t[NA + 7];                                                                    \
        for (int i = 0; i < NA; i++)                                                       \
            t[i] = a[i];                                                                   \
        for (int i = NA; i < NA + 7; i++)                                                  \
            t[i] = 0u;                                                                     \
        for (int i = 0; i < NA + 6; i++)                                                   \
            t[i] = (w0 & 1u) != 0u ? t[i + 1] : t[i];                                      \
        for (int i = 0; i < NA + 4; i++)                                                   \
            t[i] = (w0 & 2u) != 0u ? t[i + 2] : t[i];                                      \
        for (int i = 0; i < NA; i++)                                                       \
            t[i] = (w0 & 4u) != 0u ? t[i + 4] : t[i];                                      \
        const bool odd = (h & 1u) != 0u;                                                   \
        for (int j = 0; j < NS; j++)                                                       \
            s[j] = odd ? (t[j] >> 16) | (t[j + 1] << 16) : t[j];                           \
    }

/* The half word at half-word h (< 2 NA) of the window a. */
#define DEFINE_HALF_AT(NAME, NA)                                                           \
    uint NAME(uint a[NA], uint h)                                                          \
    {                                                                                      \
        uint w = a[0];                                                                     \
        for (int i = 1; i < NA; i++)                                                       \
            w = (h >> 1) == uint(i) ? a[i] : w;                                            \
        return (h & 1u) != 0u ? w >> 16 : w & 0xFFFFu;                                     \
    }

#if defined(TYPE_Q4_0) || defined(TYPE_IQ4_NL)
DEFINE_REALIGN(realign_8_4, 8, 4)
DEFINE_HALF_AT(half_at_8, 8)
#elif defined(TYPE_Q5_0)
DEFINE_REALIGN(realign_12_5, 12, 5)
DEFINE_HALF_AT(half_at_12, 12)
#elif defined(TYPE_Q8_0)
DEFINE_REALIGN(realign_12_8, 12, 8)
DEFINE_HALF_AT(half_at_12, 12)
#elif defined(TYPE_Q4_1)
DEFINE_REALIGN(realign_8_5, 8, 5)
#elif defined(TYPE_Q5_1)
DEFINE_REALIGN(realign_8_6, 8, 6)
#elif defined(TYPE_Q6_K)
DEFINE_REALIGN(realign_12_8, 12, 8)
DEFINE_HALF_AT(half_at_8, 8)
#endif

#if defined(TYPE_Q4_0) || defined(TYPE_IQ4_NL) || defined(TYPE_Q5_0) || defined(TYPE_Q8_0)
/* Blocks that are an f16 scale d and NS words (Q4_0, IQ4_NL: the 16 quant
 * bytes; Q5_0: qh and the 16 bytes; Q8_0: the 32 bytes). */
#if defined(TYPE_Q8_0)
#define NS 8
#elif defined(TYPE_Q5_0)
#define NS 5
#else
#define NS 4
#endif
void load_header_stream(uint ib, out float d, out uint s[NS])
{
    const uint o = ib * BLOCK_BYTES;
    const uint h = (o & 15u) >> 1; /* the block's first half word in the window */
#if BLOCK_BYTES <= 18
    uint a[8];
    load_window8(o, o + BLOCK_BYTES - 1u, a);
    d = unpackHalf2x16(half_at_8(a, h)).x;
    realign_8_4(a, h + 1u, s);
#else
    uint a[12];
    load_window12(o, o + BLOCK_BYTES - 1u, a);
    d = unpackHalf2x16(half_at_12(a, h)).x;
#if NS == 8
    realign_12_8(a, h + 1u, s);
#else
    realign_12_5(a, h + 1u, s);
#endif
#endif
}
#endif

#if defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
/* 6-bit scale and min of sub-block j (0..7) from the 12 scale bytes, held as
 * the 3 words s0, s1, s2 (ggml's get_scale_min_k4). */
void scale_min_k4(uint j, uint s0, uint s1, uint s2, out float sc, out float m)
{
    const uint shift = 8u * (j & 3u);
    const uint b0 = (s0 >> shift) & 0xFFu, b1 = (s1 >> shift) & 0xFFu, b2 = (s2 >> shift) & 0xFFu;
    const bool low = j < 4u;
    sc = float(low ? b0 & 63u : (b2 & 0xFu) | ((b0 >> 6) << 4));
    m = float(low ? b1 & 63u : (b2 >> 4) | ((b1 >> 6) << 4));
}
#endif

#if defined(TYPE_IQ4_NL)
/* The IQ4_NL code book (ggml-common.h kvalues_iq4nl: -127, -104, -83, -65,
 * -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113) as 16 signed bytes
 * packed four to a word, looked up with selects and shifts: an indexed
 * constant array costs a loop over the lanes on software Vulkan. */
const uint IQ4NL_0 = 0xBFAD9881u, IQ4NL_1 = 0xF6EADDCFu, IQ4NL_2 = 0x26190D01u,
           IQ4NL_3 = 0x71594535u;
float iq4nl_value(uint q)
{
    const uint w = (q & 8u) != 0u ? ((q & 4u) != 0u ? IQ4NL_3 : IQ4NL_2)
                                  : ((q & 4u) != 0u ? IQ4NL_1 : IQ4NL_0);
    return float(int(w << (24u - 8u * (q & 3u))) >> 24);
}
vec4 iq4nl_values(uint w)
{
    return vec4(iq4nl_value(w & 0xFu), iq4nl_value((w >> 8) & 0xFu),
                iq4nl_value((w >> 16) & 0xFu), iq4nl_value((w >> 24) & 0xFu));
}
#endif

/* ---- the dequantizers -------------------------------------------------------- */

void dequant_chunk(uint row, uint chunk, uint n_in, bool w_aligned, out vec4 v[8])
{
#if defined(TYPE_F32)
    const uint e = row * n_in + 32u * chunk;
    if (w_aligned) {
        for (int i = 0; i < 8; i++)
            v[i] = wv4[e / 4u + i];
    } else {
        for (int i = 0; i < 8; i++) {
            const uint k = e + 4u * i;
            v[i] = vec4(wf32[k], wf32[k + 1u], wf32[k + 2u], wf32[k + 3u]);
        }
    }
#elif defined(TYPE_F16) || defined(TYPE_BF16)
    const uint e = row * n_in + 32u * chunk;
    uint h[16]; /* 32 halves, two a word, low first */
    if (w_aligned) {
        for (int i = 0; i < 4; i++) {
            const uvec4 q = wq4[e / 8u + i];
            h[4 * i] = q.x, h[4 * i + 1] = q.y, h[4 * i + 2] = q.z, h[4 * i + 3] = q.w;
        }
    } else {
        for (int i = 0; i < 16; i++)
            h[i] = uint(w16[e + 2u * i]) | (uint(w16[e + 2u * i + 1u]) << 16);
    }
    for (int i = 0; i < 8; i++) {
        const uint a = h[2 * i], b = h[2 * i + 1];
#if defined(TYPE_F16)
        v[i] = vec4(unpackHalf2x16(a), unpackHalf2x16(b));
#else
        v[i] = vec4(uintBitsToFloat(a << 16), uintBitsToFloat(a & 0xFFFF0000u),
                    uintBitsToFloat(b << 16), uintBitsToFloat(b & 0xFFFF0000u));
#endif
    }
#elif defined(TYPE_Q4_0) || defined(TYPE_IQ4_NL)
    /* byte j holds element j (low nibble) and element j + 16 (high nibble) */
    const uint ib = row * (n_in / 32u) + chunk;
    float d;
    uint s[NS];
    load_header_stream(ib, d, s);
    for (int i = 0; i < 4; i++) {
#if defined(TYPE_Q4_0)
        v[i] = (nibbles(s[i]) - 8.0) * d;
        v[i + 4] = (nibbles(s[i] >> 4) - 8.0) * d;
#else
        v[i] = iq4nl_values(s[i]) * d;
        v[i + 4] = iq4nl_values(s[i] >> 4) * d;
#endif
    }
#elif defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
    /* d and m in the first word; Q5_1: qh next; then the 16 quant bytes */
    const uint o = (row * (n_in / 32u) + chunk) * BLOCK_BYTES;
    uint a[8];
    load_window8(o, o + BLOCK_BYTES - 1u, a);
#if defined(TYPE_Q4_1)
    uint s[5];
    realign_8_5(a, (o & 15u) >> 1, s);
    const uint qh = 0u, q0 = 1u;
#else
    uint s[6];
    realign_8_6(a, (o & 15u) >> 1, s);
    const uint qh = s[1], q0 = 2u;
#endif
    const vec2 dm = unpackHalf2x16(s[0]);
    for (int i = 0; i < 4; i++) {
        const uint q = s[q0 + i];
        v[i] = (nibbles(q) + 16.0 * low4bits(qh >> (4 * i))) * dm.x + dm.y;
        v[i + 4] = (nibbles(q >> 4) + 16.0 * low4bits(qh >> (16 + 4 * i))) * dm.x + dm.y;
    }
#elif defined(TYPE_Q5_0)
    /* bit e of qh is the fifth bit of element e */
    const uint ib = row * (n_in / 32u) + chunk;
    float d;
    uint s[NS]; /* qh, then the 16 low-nibble bytes */
    load_header_stream(ib, d, s);
    const uint qh = s[0];
    for (int i = 0; i < 4; i++) {
        v[i] = (nibbles(s[1 + i]) + 16.0 * low4bits(qh >> (4 * i)) - 16.0) * d;
        v[i + 4] = (nibbles(s[1 + i] >> 4) + 16.0 * low4bits(qh >> (16 + 4 * i)) - 16.0) * d;
    }
#elif defined(TYPE_Q8_0)
    const uint ib = row * (n_in / 32u) + chunk;
    float d;
    uint s[NS];
    load_header_stream(ib, d, s);
    for (int i = 0; i < 8; i++)
        v[i] = bytes_s(s[i]) * d;
#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
    /* Blocks are 16-byte multiples, so every field is a whole uvec4.
     * Sub-block j: 32 elements from the qs bytes of pair j / 2, low nibbles
     * for even j, high for odd j; Q5_K adds bit j of each qh byte as 16. */
    const uint ib = row * (n_in / 256u) + chunk / 8u;
    const uint j = chunk & 7u;
    const uint q = ib * (BLOCK_BYTES / 16);
    const uvec4 head = wq4[q]; /* d, dmin; 12 scale bytes */
    const vec2 dm = unpackHalf2x16(head.x);
    float sc, m;
    scale_min_k4(j, head.y, head.z, head.w, sc, m);
    const float d1 = dm.x * sc, m1 = dm.y * m;
    const uint shift = 4u * (j & 1u);
#if defined(TYPE_Q4_K)
    const uint qs = q + 1u + 2u * (j / 2u);
#else
    const uint qs = q + 3u + 2u * (j / 2u);
    const uvec4 h0 = wq4[q + 1u], h1 = wq4[q + 2u];
    const uint qh[8] = uint[8](h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w);
#endif
    const uvec4 l0 = wq4[qs], l1 = wq4[qs + 1u];
    const uint ql[8] = uint[8](l0.x, l0.y, l0.z, l0.w, l1.x, l1.y, l1.z, l1.w);
    for (int i = 0; i < 8; i++) {
#if defined(TYPE_Q4_K)
        v[i] = nibbles(ql[i] >> shift) * d1 - m1;
#else
        v[i] = (nibbles(ql[i] >> shift) + 16.0 * bit0s(qh[i] >> j)) * d1 - m1;
#endif
    }
#elif defined(TYPE_Q6_K)
    /* sub-block j = 4 half + quad: element l (0..31) has its low 4 bits in
     * ql[64 half + 32 (quad & 1) + l] (nibble quad / 2), its high 2 bits in
     * qh[32 half + l] (bits 2 quad), and scale scales[8 half + 2 quad + l / 16] */
    const uint ib = row * (n_in / 256u) + chunk / 8u;
    const uint j = chunk & 7u, half_ = j / 4u, quad = j & 3u;
    const uint o = ib * BLOCK_BYTES;
    const uint h = (o & 15u) >> 1;
    uint a[12], ql[8], qh[8];
    const uint o_ql = o + 64u * half_ + 32u * (quad & 1u);
    load_window12(o_ql, o_ql + 31u, a);
    realign_12_8(a, h, ql);
    const uint o_qh = o + 128u + 32u * half_;
    load_window12(o_qh, o_qh + 31u, a);
    realign_12_8(a, h, qh);
    /* scales[16] and d: 18 bytes from block byte 192 */
    uint b[8];
    load_window8(o + 192u, o + 209u, b);
    const uint sc_pair = half_at_8(b, h + 4u * half_ + quad); /* scales 8 half + 2 quad, +1 */
    const float d = unpackHalf2x16(half_at_8(b, h + 8u)).x;
    const float d1 = d * float(int(sc_pair << 24) >> 24);
    const float d2 = d * float(int(sc_pair << 16) >> 24);
    const uint lo_shift = 4u * (quad >> 1), hi_shift = 2u * quad;
    for (int i = 0; i < 8; i++) {
        const uint q =
            ((ql[i] >> lo_shift) & 0x0F0F0F0Fu) | (((qh[i] >> hi_shift) & 0x03030303u) << 4);
        v[i] = (bytes_u(q) - 32.0) * (i < 4 ? d1 : d2);
    }
#endif
}

#if QK == 1
float dequant_one(uint row, uint k, uint n_in)
{
    const uint e = row * n_in + k;
#if defined(TYPE_F32)
    return wf32[e];
#elif defined(TYPE_F16)
    return unpackHalf2x16(uint(w16[e])).x;
#else
    return uintBitsToFloat(uint(w16[e]) << 16);
#endif
}
#endif

#version 450
/* copy.comp: dst[dst_off + i] = src[src_off + i] for i < n, converting
 * between f32 and f16 (-DSRC_F32 / -DSRC_F16, -DDST_F32 / -DDST_F16).
 *
 * Bindings:
 *   0  src  f32 or f16 [src_off + n]
 *   1  dst  f32 or f16 [dst_off + n]
 * Push constants: n, src_off, dst_off (in elements).
 * Workgroups: each covers 4 * WG elements, as activation.comp.
 * Spec constant 0: workgroup size.
 */
#extension GL_EXT_shader_16bit_storage : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;
const uint PER_THREAD = 4;

#ifdef SRC_F16
layout(std430, binding = 0) readonly buffer Src { float16_t src[]; };
#else
layout(std430, binding = 0) readonly buffer Src { float src[]; };
#endif
#ifdef DST_F16
layout(std430, binding = 1) writeonly buffer Dst { float16_t dst[]; };
#else
layout(std430, binding = 1) writeonly buffer Dst { float dst[]; };
#endif

layout(push_constant) uniform Push {
    uint n;
    uint src_off;
    uint dst_off;
} pc;

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint first = group * WG * PER_THREAD + gl_LocalInvocationID.x;
    for (uint k = 0; k < PER_THREAD; k++) {
        const uint i = first + k * WG;
        if (i >= pc.n)
            return;
#if defined(SRC_F16) && defined(DST_F16)
        dst[pc.dst_off + i] = src[pc.src_off + i];
#elif defined(DST_F16)
        dst[pc.dst_off + i] = float16_t(src[pc.src_off + i]);
#else
        dst[pc.dst_off + i] = float(src[pc.src_off + i]);
#endif
    }
}

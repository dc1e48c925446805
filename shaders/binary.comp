#version 450
/* binary.comp: element-wise arithmetic with a broadcast second operand.
 *
 * -DOP_ADD:   y[i] = a[i] + b[i % b_len]
 * -DOP_MUL:   y[i] = a[i] * b[i % b_len]
 * -DOP_SCALE: y[i] = a[i] * s
 *
 * Bindings:
 *   0  a  f32 [n]
 *   1  b  f32 [b_len]       (OP_ADD, OP_MUL)
 *   1  y  f32 [n]           (2 for OP_ADD, OP_MUL; may be the same memory as a)
 * Push constants: n, b_len, s.
 * Workgroups: each covers 4 * WG elements, as activation.comp.
 * Spec constant 0: workgroup size.
 */

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;
const uint PER_THREAD = 4;

layout(std430, binding = 0) readonly buffer A { float a[]; };
#ifdef OP_SCALE
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
#else
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
#endif

layout(push_constant) uniform Push {
    uint n;
    uint b_len;
    float s;
} pc;

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint first = group * WG * PER_THREAD + gl_LocalInvocationID.x;
    for (uint k = 0; k < PER_THREAD; k++) {
        const uint i = first + k * WG;
        if (i >= pc.n)
            return;
#if defined(OP_ADD)
        y[i] = a[i] + b[i % pc.b_len];
#elif defined(OP_MUL)
        y[i] = a[i] * b[i % pc.b_len];
#else
        y[i] = a[i] * pc.s;
#endif
    }
}

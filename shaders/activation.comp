#version 450
/* activation.comp: element-wise activations.
 *
 * -DOP_SILU:       y = x * sigmoid(x)
 * -DOP_GELU:       y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *                  (ggml_gelu / HF gelu_pytorch_tanh), evaluated as
 *                  x * sigmoid(2 u) so that large |u| cannot overflow
 * -DOP_GELU_QUICK: y = x * sigmoid(1.702 x)
 * -DOP_GELU_ERF:   y = 0.5 x (1 + erf(x / sqrt(2))) (exact GELU, torch's
 *                  default), through erfc(z) = t exp(-z^2 + P(t)),
 *                  t = 1 / (1 + z/2), z >= 0 (Numerical Recipes' erfcc,
 *                  relative error < 1.2e-7)
 * -DOP_SILU_MUL:   y = silu(a) * b (the fused SwiGLU gate)
 *
 * Bindings:
 *   0  a  f32 [n]
 *   1  b  f32 [n]           (OP_SILU_MUL only)
 *   1  y  f32 [n]           (2 for OP_SILU_MUL; may be the same memory as a)
 * Push constants: n.
 * Workgroups: each covers 4 * WG elements (element g*4*WG + k*WG + tid);
 * workgroup g = wg.y * num_wg.x + wg.x. Spec constant 0: workgroup size.
 */

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;
const uint PER_THREAD = 4;

layout(std430, binding = 0) readonly buffer A { float a[]; };
#ifdef OP_SILU_MUL
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
#else
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
#endif

layout(push_constant) uniform Push {
    uint n;
} pc;

float activation(float v)
{
#if defined(OP_SILU) || defined(OP_SILU_MUL)
    return v / (1.0 + exp(-v));
#elif defined(OP_GELU)
    const float u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
    return v / (1.0 + exp(-2.0 * u));
#elif defined(OP_GELU_QUICK)
    return v / (1.0 + exp(-1.702 * v));
#elif defined(OP_GELU_ERF)
    const float z = abs(v) * 0.7071067811865476;
    const float t = 1.0 / (1.0 + 0.5 * z);
    const float poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277))))))));
    const float erfc_z = t * exp(-z * z + poly);
    /* v >= 0: v (1 - erfc(z) / 2); v < 0: v erfc(z) / 2 */
    return v >= 0.0 ? v * (1.0 - 0.5 * erfc_z) : v * 0.5 * erfc_z;
#endif
}

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint first = group * WG * PER_THREAD + gl_LocalInvocationID.x;
    for (uint k = 0; k < PER_THREAD; k++) {
        const uint i = first + k * WG;
        if (i >= pc.n)
            return;
#ifdef OP_SILU_MUL
        y[i] = activation(a[i]) * b[i];
#else
        y[i] = activation(a[i]);
#endif
    }
}

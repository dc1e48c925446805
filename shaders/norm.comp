#version 450
/* norm.comp: row normalisation, one workgroup per row.
 *
 * -DRMS_NORM:   y = x / sqrt(mean(x^2) + eps) * w
 *               (HF LlamaRMSNorm / Qwen2RMSNorm, computed in f32)
 * -DLAYER_NORM: y = (x - mean(x)) / sqrt(var(x) + eps) * w + b
 *               (torch.nn.LayerNorm: biased variance, two passes)
 *
 * Bindings:
 *   0  x  f32 [n_rows][n]
 *   1  y  f32 [n_rows][n]   (may be the same memory as x)
 *   2  w  f32 [n]
 *   3  b  f32 [n]           (LAYER_NORM only)
 * Push constants: n, n_rows, eps.
 * Workgroups: one per row, rows past 65535 spread over the y dimension
 * (row = wg.y * num_wg.x + wg.x). Spec constant 0: workgroup size, a power
 * of two.
 */

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 2) readonly buffer W { float w[]; };
#ifdef LAYER_NORM
layout(std430, binding = 3) readonly buffer B { float b[]; };
#endif

layout(push_constant) uniform Push {
    uint n;
    uint n_rows;
    float eps;
} pc;

shared float partial[WG];

/* Sum of v over the workgroup (tree reduction), returned to every thread. */
float workgroup_sum(float v)
{
    const uint tid = gl_LocalInvocationID.x;
    partial[tid] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s)
            partial[tid] += partial[tid + s];
        barrier();
    }
    const float total = partial[0];
    barrier(); /* partial[] is reused by the next call */
    return total;
}

void main()
{
    const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= pc.n_rows)
        return; /* uniform over the workgroup */
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * pc.n;

#ifdef RMS_NORM
    float sum_sq = 0.0;
    for (uint i = tid; i < pc.n; i += WG) {
        const float v = x[base + i];
        sum_sq += v * v;
    }
    const float inv_rms = inversesqrt(workgroup_sum(sum_sq) / float(pc.n) + pc.eps);
    for (uint i = tid; i < pc.n; i += WG)
        y[base + i] = x[base + i] * inv_rms * w[i];
#else
    float sum = 0.0;
    for (uint i = tid; i < pc.n; i += WG)
        sum += x[base + i];
    const float mean = workgroup_sum(sum) / float(pc.n);
    float sum_sq = 0.0;
    for (uint i = tid; i < pc.n; i += WG) {
        const float d = x[base + i] - mean;
        sum_sq += d * d;
    }
    const float inv_std = inversesqrt(workgroup_sum(sum_sq) / float(pc.n) + pc.eps);
    for (uint i = tid; i < pc.n; i += WG)
        y[base + i] = (x[base + i] - mean) * inv_std * w[i] + b[i];
#endif
}

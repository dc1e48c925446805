#version 450
/* softmax.comp: y[r] = softmax(x[r] * scale) over rows of n, one workgroup
 * per row: max, then the sum of exp(v - max), then the normalised values.
 *
 * Bindings:
 *   0  x  f32 [n_rows][n]
 *   1  y  f32 [n_rows][n]   (may be the same memory as x)
 * Push constants: n, n_rows, scale.
 * Workgroups: one per row, rows past 65535 spread over the y dimension.
 * Spec constant 0: workgroup size, a power of two.
 */

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint n;
    uint n_rows;
    float scale;
} pc;

shared float partial[WG];

/* Max (is_max) or sum of v over the workgroup, returned to every thread. */
float workgroup_reduce(float v, bool is_max)
{
    const uint tid = gl_LocalInvocationID.x;
    partial[tid] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s)
            partial[tid] = is_max ? max(partial[tid], partial[tid + s])
                                  : partial[tid] + partial[tid + s];
        barrier();
    }
    const float r = partial[0];
    barrier(); /* partial[] is reused by the next call */
    return r;
}

void main()
{
    const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= pc.n_rows)
        return; /* uniform over the workgroup */
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * pc.n;

    float row_max = -3.0e38;
    for (uint i = tid; i < pc.n; i += WG)
        row_max = max(row_max, x[base + i] * pc.scale);
    row_max = workgroup_reduce(row_max, true);

    float sum = 0.0;
    for (uint i = tid; i < pc.n; i += WG)
        sum += exp(x[base + i] * pc.scale - row_max);
    const float inv_sum = 1.0 / workgroup_reduce(sum, false);

    for (uint i = tid; i < pc.n; i += WG)
        y[base + i] = exp(x[base + i] * pc.scale - row_max) * inv_sum;
}

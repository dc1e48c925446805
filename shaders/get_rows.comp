#version 450
/* get_rows.comp: embedding row fetch from one part of a weight matrix.
 *
 *   y[i][:] = dequantized W row ids[i], for i < n with row0 <= ids[i] < row0 + n_rows;
 *   the rows other parts own are left alone (their dispatches write them).
 *
 * Bindings:
 *   0  W    weights of this part, [n_rows][n_in] in the TYPE_* format (dequant.glsl)
 *   1  ids  int32 [n]
 *   2  y    f32 [n][n_in]
 * Push constants: n_in, n_rows, row0, n.
 * Specialization constants: 0 the workgroup size; 1 ALIGN bits (1: y rows
 * start on 16 bytes, n_in % 4 == 0; 2: weight rows start on 16 bytes).
 * One invocation writes one 32-element chunk of one output row; invocation
 * g = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * size + local
 * does row g / chunks_per_row, chunk g % chunks_per_row.
 */
#include "dequant.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ALIGN = 0;

const bool Y_ALIGNED = (ALIGN & 1u) != 0u;
const bool W_ALIGNED = (ALIGN & 2u) != 0u;

layout(std430, binding = 1) readonly restrict buffer Ids { int ids[]; };
layout(std430, binding = 2) writeonly restrict buffer Y { float y[]; };
layout(std430, binding = 2) writeonly restrict buffer YVec4 { vec4 y4[]; };

layout(push_constant) uniform Push {
    uint n_in;
    uint n_rows;
    uint row0;
    uint n;
} pc;

void main()
{
    const uint chunks_per_row = (pc.n_in + 31u) / 32u;
    const uint wg = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint g = wg * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint i = g / chunks_per_row, chunk = g % chunks_per_row;
    if (i >= pc.n)
        return;
    const int id = ids[i];
    if (id < int(pc.row0) || id >= int(pc.row0 + pc.n_rows))
        return;
    const uint row = uint(id) - pc.row0;
    const uint out_base = i * pc.n_in + 32u * chunk;

#if QK == 1
    if (32u * chunk + 32u > pc.n_in) {
        for (uint k = 32u * chunk; k < pc.n_in; k++)
            y[i * pc.n_in + k] = dequant_one(row, k, pc.n_in);
        return;
    }
#endif
    vec4 v[8];
    dequant_chunk(row, chunk, pc.n_in, W_ALIGNED, v);
    if (Y_ALIGNED) {
        for (int q = 0; q < 8; q++)
            y4[out_base / 4u + q] = v[q];
    } else {
        for (int q = 0; q < 8; q++)
            for (int c = 0; c < 4; c++)
                y[out_base + 4u * q + c] = v[q][c];
    }
}

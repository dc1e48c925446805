/* quant.c: type traits, half/bf16 conversion, dequantizers, quantizers and
 * the plain C dot kernels. The AVX2/FMA kernels live in quant-avx2.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "quant.h"

_Static_assert(sizeof(struct block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(struct block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(struct block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(struct block_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(struct block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(struct block_q8_1) == 36, "q8_1 block");
_Static_assert(sizeof(struct block_iq4_nl) == 18, "iq4_nl block");
_Static_assert(sizeof(struct block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(struct block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(struct block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(struct block_q8_K) == 292, "q8_K block");

static const struct quant_traits traits_table[ENG_TYPE_COUNT] = {
    [ENG_TYPE_F32] = {"F32", 1, 4, ENG_TYPE_F32, true, true},
    [ENG_TYPE_F16] = {"F16", 1, 2, ENG_TYPE_F16, true, true},
    [ENG_TYPE_BF16] = {"BF16", 1, 2, ENG_TYPE_BF16, true, true},
    [ENG_TYPE_Q4_0] = {"Q4_0", 32, 18, ENG_TYPE_Q8_0, true, true},
    [ENG_TYPE_Q4_1] = {"Q4_1", 32, 20, ENG_TYPE_Q8_1, true, false},
    [ENG_TYPE_Q5_0] = {"Q5_0", 32, 22, ENG_TYPE_Q8_0, true, false},
    [ENG_TYPE_Q5_1] = {"Q5_1", 32, 24, ENG_TYPE_Q8_1, true, false},
    [ENG_TYPE_Q8_0] = {"Q8_0", 32, 34, ENG_TYPE_Q8_0, true, true},
    [ENG_TYPE_Q8_1] = {"Q8_1", 32, 36, ENG_TYPE_Q8_1, false, true},
    [ENG_TYPE_Q2_K] = {"Q2_K", 256, 84, ENG_TYPE_Q8_K, false, false},
    [ENG_TYPE_Q3_K] = {"Q3_K", 256, 110, ENG_TYPE_Q8_K, false, false},
    [ENG_TYPE_Q4_K] = {"Q4_K", 256, 144, ENG_TYPE_Q8_K, true, true},
    [ENG_TYPE_Q5_K] = {"Q5_K", 256, 176, ENG_TYPE_Q8_K, true, false},
    [ENG_TYPE_Q6_K] = {"Q6_K", 256, 210, ENG_TYPE_Q8_K, true, true},
    [ENG_TYPE_Q8_K] = {"Q8_K", 256, 292, ENG_TYPE_Q8_K, false, true},
    [ENG_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18, ENG_TYPE_Q8_0, true, false},
};

const struct quant_traits *quant_traits(int type_id)
{
    if (type_id < 0 || type_id >= ENG_TYPE_COUNT || traits_table[type_id].name == NULL)
        return NULL;
    return &traits_table[type_id];
}

size_t quant_row_size(enum eng_type type, int64_t n)
{
    const struct quant_traits *t = quant_traits(type);
    ENG_ASSERT(t != NULL && n % t->blck == 0);
    return (size_t)(n / t->blck) * t->type_size;
}

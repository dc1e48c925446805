/* mmproj-probe: load an mmproj file with the engine and print what it parsed,
 * one "key value" line each, for tests/test-mmproj.py to compare.
 *
 * Usage: mmproj-probe PROJ.gguf [TEXT.gguf]
 * With TEXT.gguf the pair check runs too. Exit 0 on success; 1 with the
 * engine's error on stderr ("error: <status>: <message>").
 */
#include <stdio.h>
#include <stdlib.h>

#include "mmproj.h"
#include "model.h"

static void print_layers(const struct mmproj *p)
{
    printf("full_attention_layers");
    for (int il = 0; il < p->n_layer; il++)
        if (p->layers[il].full_attention)
            printf(" %d", il);
    printf("\n");
    int n_gated = 0, n_norm_bias = 0;
    for (int il = 0; il < p->n_layer; il++) {
        n_gated += p->layers[il].ffn_gate.data != NULL;
        n_norm_bias += p->layers[il].ln1_b != NULL && p->layers[il].ln2_b != NULL;
    }
    printf("n_gated_layers %d\nn_norm_bias_layers %d\n", n_gated, n_norm_bias);
    /* The bound up projection must map n_embd -> n_ff whatever the names. */
    printf("ffn_up_shape %d %d\nffn_down_shape %d %d\n", p->layers[0].ffn_up.n_in,
           p->layers[0].ffn_up.n_out, p->layers[0].ffn_down.n_in, p->layers[0].ffn_down.n_out);
    /* First value of layer 0's up bias, to tell which tensor was bound. */
    printf("ffn_up_b0 %.9g\n", (double)p->layers[0].ffn_up_b[0]);
}

static void print_mmproj(const struct mmproj *p)
{
    static const char *const norms[] = {"layer", "rms"};
    static const char *const ops[] = {"gelu_quick", "gelu", "silu"};
    printf("projector %s\ntype %s\nname %s\n", p->type_name, mmproj_type_name(p->type), p->name);
    printf("n_embd %d\nn_head %d\nhead_dim %d\nn_layer %d\nn_ff %d\nn_ff_metadata %d\n",
           p->n_embd, p->n_head, p->head_dim, p->n_layer, p->n_ff, p->n_ff_metadata);
    printf("projection_dim %d\neps %.9g\nimage_size %d\npatch_size %d\n", p->projection_dim,
           (double)p->eps, p->image_size, p->patch_size);
    printf("image_mean %.9g %.9g %.9g\nimage_std %.9g %.9g %.9g\n", (double)p->image_mean[0],
           (double)p->image_mean[1], (double)p->image_mean[2], (double)p->image_std[0],
           (double)p->image_std[1], (double)p->image_std[2]);
    printf("norm %s\nffn_op %s\nffn_swapped %d\n", norms[p->norm], ops[p->ffn_op],
           p->ffn_swapped);
    printf("merge_size %d\nn_wa_pattern %d\npreproc_image_size %d\nn_pos %d\n", p->merge_size,
           p->n_wa_pattern, p->preproc_image_size, p->n_pos);
    printf("has_patch_embd_1 %d\nhas_patch_bias %d\nhas_position_embd %d\n",
           p->patch_embd_1.data != NULL, p->patch_bias != NULL, p->position_embd.data != NULL);
    printf("has_post_ln_bias %d\nhas_merger %d\nhas_fc %d\n", p->post_ln_b != NULL,
           p->mm0.data != NULL && p->mm2.data != NULL, p->mm_fc.data != NULL);
    printf("patch_embd_matrix %d %d\n", p->patch_embd.n_in, p->patch_embd.n_out);
    print_layers(p);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: mmproj-probe PROJ.gguf [TEXT.gguf]\n");
        return 2;
    }
    struct eng_err err = {{0}};
    struct mmproj *proj = NULL;
    enum eng_status st = mmproj_load(argv[1], &proj, &err);
    if (st != ENG_STATUS_OK) {
        fprintf(stderr, "error: %s: %s\n", eng_status_name(st), err.msg);
        return 1;
    }
    print_mmproj(proj);
    int status = 0;
    if (argc == 3) {
        struct eng_model_params mp = eng_model_params_default();
        mp.path = argv[2];
        mp.device = ENG_DEVICE_CPU;
        struct eng_model *text = NULL;
        st = eng_model_load(&mp, &text, &err);
        if (st == ENG_STATUS_OK)
            st = mmproj_check_pair(proj, text, &err);
        if (st != ENG_STATUS_OK) {
            fprintf(stderr, "error: %s: %s\n", eng_status_name(st), err.msg);
            status = 1;
        } else {
            printf("pair ok\n");
        }
        eng_model_free(&text);
    }
    mmproj_free(&proj);
    return status;
}

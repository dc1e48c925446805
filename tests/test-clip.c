/* test-clip.c: libwenshu-clip's segment planning, frame assignment,
 * keyframe choice, time formatting and refusals, against expectations
 * worked out by hand from the rules in clip.h. The media tests are in
 * test-clip.py. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "clip.h"

/* Plan and compare to expected [start, end) pairs (flattened, [n * 2]). */
static void check_plan(double duration, const double *cuts, int n_cuts,
                       const struct clip_plan_params *p, const double *expected, int n_expected)
{
    struct clip_segment *segments = NULL;
    int n = 0;
    GError *error = NULL;
    g_assert_true(clip_plan_segments(duration, cuts, n_cuts, p, &segments, &n, &error));
    g_assert_no_error(error);
    g_assert_cmpint(n, ==, n_expected);
    for (int i = 0; i < n; i++) {
        g_assert_cmpfloat_with_epsilon(segments[i].start, expected[2 * i], 1e-9);
        g_assert_cmpfloat_with_epsilon(segments[i].end, expected[2 * i + 1], 1e-9);
    }
    g_free(segments);
}

static void test_plan_cuts_kept(void)
{
    double cuts[] = {15.0, 7.0, 22.0}; /* unsorted on purpose */
    double expected[] = {0, 7, 7, 15, 15, 22, 22, 30};
    check_plan(30.0, cuts, 3, NULL, expected, 4);
}

static void test_plan_short_merges_earlier_kept(void)
{
    /* [7, 9) is short: without strengths its later cut (9) goes. [28, 30) is
     * the last and short: its start cut goes. Cuts at 0 and past the end are
     * ignored. */
    double cuts[] = {0.0, 7.0, 9.0, 20.0, 28.0, 31.0};
    double expected[] = {0, 7, 7, 20, 20, 30};
    check_plan(30.0, cuts, 6, NULL, expected, 3);
}

static void test_plan_short_merges_by_strength(void)
{
    /* [7, 9): the cut at 9 is stronger, so 7 goes. [0, 3): the first
     * segment can only lose its end cut, 3. */
    double cuts[] = {3.0, 7.0, 9.0, 20.0};
    double strengths[] = {90.0, 30.0, 120.0, 60.0};
    struct clip_plan_params p = clip_plan_params_default();
    p.cut_strengths = strengths;
    double expected[] = {0, 9, 9, 20, 20, 30};
    check_plan(30.0, cuts, 4, &p, expected, 3);
}

static void test_plan_long_split_evenly(void)
{
    /* [10, 310) is 300 s: ceil(300 / 120) = 3 parts of 100 s. */
    double cuts[] = {10.0};
    double expected[] = {0, 10, 10, 110, 110, 210, 210, 310};
    check_plan(310.0, cuts, 1, NULL, expected, 4);
}

static void test_plan_no_cuts(void)
{
    /* 600 s, no cuts: round(600 / 60) = 10 parts of 60 s. */
    double expected600[20];
    for (int i = 0; i < 10; i++) {
        expected600[2 * i] = 60.0 * i;
        expected600[2 * i + 1] = 60.0 * (i + 1);
    }
    check_plan(600.0, NULL, 0, NULL, expected600, 10);
    /* 20 s: one segment; 100 s: round(1.67) = 2 parts of 50 s. */
    double expected20[] = {0, 20};
    check_plan(20.0, NULL, 0, NULL, expected20, 1);
    double expected100[] = {0, 50, 50, 100};
    check_plan(100.0, NULL, 0, NULL, expected100, 2);
    /* A 3 s clip with a cut at 1 s: both parts short, merge to one. */
    double cut[] = {1.0};
    double expected3[] = {0, 3};
    check_plan(3.0, cut, 1, NULL, expected3, 1);
}

static void test_plan_refusals(void)
{
    struct clip_segment *segments = NULL;
    int n = 0;
    GError *error = NULL;
    g_assert_false(clip_plan_segments(0.0, NULL, 0, NULL, &segments, &n, &error));
    g_assert_error(error, CLIP_ERROR, CLIP_ERROR_ARG);
    g_assert_nonnull(strstr(error->message, "no duration"));
    g_clear_error(&error);
    struct clip_plan_params p = clip_plan_params_default();
    p.min_seconds = 200.0; /* above max */
    g_assert_false(clip_plan_segments(10.0, NULL, 0, &p, &segments, &n, &error));
    g_assert_error(error, CLIP_ERROR, CLIP_ERROR_ARG);
    g_clear_error(&error);
    g_assert_null(segments);
}

static void test_assign_and_keyframes(void)
{
    struct clip_segment segments[] = {{0, 7, 0, 0}, {7, 15, 0, 0}, {15, 22, 0, 0}};
    /* Frames every 2 s from 0 to 20, plus one at 22.0 (at the end: counts to the last). */
    double times[] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22};
    GError *error = NULL;
    g_assert_true(clip_assign_frames(segments, 3, times, 12, &error));
    g_assert_cmpint(segments[0].first_frame, ==, 0);
    g_assert_cmpint(segments[0].n_frames, ==, 4); /* 0 2 4 6 */
    g_assert_cmpint(segments[1].first_frame, ==, 4);
    g_assert_cmpint(segments[1].n_frames, ==, 4); /* 8 10 12 14 */
    g_assert_cmpint(segments[2].first_frame, ==, 8);
    g_assert_cmpint(segments[2].n_frames, ==, 4); /* 16 18 20 22 */
    int keyframes[3];
    clip_pick_keyframes(segments, 3, times, 12, keyframes);
    g_assert_cmpint(keyframes[0], ==, 2); /* middle 3.5: 4 is nearer than 2 */
    g_assert_cmpint(keyframes[1], ==, 5); /* middle 11: 10 and 12 tie, the earlier */
    g_assert_cmpint(keyframes[2], ==, 9); /* middle 18.5: 18 */

    /* A segment with no frame of its own still gets its nearest frame. */
    struct clip_segment sparse[] = {{0, 30, 0, 0}, {30, 36, 0, 0}, {36, 90, 0, 0}};
    double sparse_times[] = {10, 50, 80};
    g_assert_true(clip_assign_frames(sparse, 3, sparse_times, 3, &error));
    g_assert_cmpint(sparse[1].n_frames, ==, 0);
    g_assert_cmpint(sparse[2].first_frame, ==, 1);
    g_assert_cmpint(sparse[2].n_frames, ==, 2);
    clip_pick_keyframes(sparse, 3, sparse_times, 3, keyframes);
    g_assert_cmpint(keyframes[1], ==, 1); /* middle 33: 50 (17 away) beats 10 (23) */

    double backwards[] = {0, 5, 4};
    g_assert_false(clip_assign_frames(segments, 3, backwards, 3, &error));
    g_assert_error(error, CLIP_ERROR, CLIP_ERROR_ARG);
    g_clear_error(&error);
}

static void test_format_time(void)
{
    char buf[32];
    g_assert_cmpstr(clip_format_time(0.0, ',', buf, sizeof buf), ==, "00:00:00,000");
    g_assert_cmpstr(clip_format_time(65.4321, '.', buf, sizeof buf), ==, "00:01:05.432");
    g_assert_cmpstr(clip_format_time(3599.9996, ',', buf, sizeof buf), ==, "01:00:00,000");
    g_assert_cmpstr(clip_format_time(360000.25, '.', buf, sizeof buf), ==, "100:00:00.250");
}

static void test_writer_refusals(void)
{
    char *dir = g_dir_make_tmp("test-clip-XXXXXX", NULL);
    char *path = g_build_filename(dir, "out.srt", NULL);
    struct clip_chapter backwards[] = {{10, 20, "b", NULL}, {5, 8, "a", NULL}};
    GError *error = NULL;
    g_assert_false(clip_write_srt(path, backwards, 2, &error));
    g_assert_error(error, CLIP_ERROR, CLIP_ERROR_ARG);
    g_assert_nonnull(strstr(error->message, path));
    g_clear_error(&error);
    g_assert_false(clip_write_vtt(path, NULL, 0, &error));
    g_assert_error(error, CLIP_ERROR, CLIP_ERROR_ARG);
    g_clear_error(&error);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS)); /* nothing half-written */
    char *missing = g_build_filename(dir, "no-such-dir", "out.vtt", NULL);
    struct clip_chapter one[] = {{0, 5, "x", NULL}};
    g_assert_false(clip_write_vtt(missing, one, 1, &error));
    g_assert_error(error, CLIP_ERROR, CLIP_ERROR_IO);
    g_assert_nonnull(strstr(error->message, missing));
    g_clear_error(&error);
    g_rmdir(dir);
    g_free(missing);
    g_free(path);
    g_free(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/clip/plan/cuts-kept", test_plan_cuts_kept);
    g_test_add_func("/clip/plan/short-merges-earlier-kept", test_plan_short_merges_earlier_kept);
    g_test_add_func("/clip/plan/short-merges-by-strength", test_plan_short_merges_by_strength);
    g_test_add_func("/clip/plan/long-split-evenly", test_plan_long_split_evenly);
    g_test_add_func("/clip/plan/no-cuts", test_plan_no_cuts);
    g_test_add_func("/clip/plan/refusals", test_plan_refusals);
    g_test_add_func("/clip/assign-and-keyframes", test_assign_and_keyframes);
    g_test_add_func("/clip/format-time", test_format_time);
    g_test_add_func("/clip/writer-refusals", test_writer_refusals);
    return g_test_run();
}

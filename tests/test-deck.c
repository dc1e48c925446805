/* test-deck.c: the outline JSON of app/deck (deck.h) without the CLI:
 * every field of a hand-written outline read back, the round trip through
 * deck_to_json(), relative picture paths, and the refusals' messages (source
 * and key named). The expected values are the literals written here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deck.h"

static int n_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
            n_failures++;                                                                          \
        }                                                                                          \
    } while (0)

static const char OUTLINE[] =
    "{\"title\": \"数字政府\", \"subtitle\": \"解读\", \"extra\": 1, \"slides\": ["
    "{\"title\": \"背景\", \"bullets\": [\"一\", {\"text\": \"二\", \"level\": 2}], "
    "\"notes\": \"讲稿\", \"image\": true},"
    "{\"title\": \"图\", \"bullets\": [], \"image\": \"pics/a.png\"},"
    "{\"title\": \"末\", \"bullets\": [\"x\"], \"notes\": null, \"image\": false}]}";

static void check_outline(const struct deck *d)
{
    CHECK(strcmp(d->title, "数字政府") == 0);
    CHECK(d->subtitle && strcmp(d->subtitle, "解读") == 0);
    CHECK(d->n_slides == 3);
    CHECK(deck_page_count(d) == 4);
    const struct deck_slide *s = &d->slides[0];
    CHECK(strcmp(s->title, "背景") == 0 && s->n_bullets == 2);
    CHECK(strcmp(s->bullets[0], "一") == 0 && s->bullet_levels[0] == 0);
    CHECK(strcmp(s->bullets[1], "二") == 0 && s->bullet_levels[1] == 2);
    CHECK(s->notes && strcmp(s->notes, "讲稿") == 0);
    CHECK(s->image_slot && !s->image);
    s = &d->slides[1];
    CHECK(s->n_bullets == 0 && s->image_slot && s->image);
    s = &d->slides[2];
    CHECK(!s->notes && !s->image_slot && !s->image);
}

static void test_read_and_round_trip(void)
{
    struct deck *d = NULL;
    struct deck_err err = {{0}};
    CHECK(deck_from_json(OUTLINE, strlen(OUTLINE), "o.json", &d, &err));
    if (!d)
        return;
    check_outline(d);
    CHECK(strcmp(d->slides[1].image, "pics/a.png") == 0);
    char *json = deck_to_json(d);
    struct deck *again = NULL;
    CHECK(json && deck_from_json(json, strlen(json), "round trip", &again, &err));
    if (again) {
        check_outline(again);
        deck_free(&again);
        CHECK(again == NULL);
    }
    free(json);
    CHECK(deck_resolve_images(d, "/data/outlines", &err));
    CHECK(strcmp(d->slides[1].image, "/data/outlines/pics/a.png") == 0);
    deck_free(&d);
    deck_free(&d); /* accepts NULL */
}

/* The outline must be refused with a message naming "in.json" and needle. */
static void refuse(const char *text, const char *needle)
{
    struct deck *d = NULL;
    struct deck_err err = {{0}};
    bool ok = deck_from_json(text, strlen(text), "in.json", &d, &err);
    if (ok || d || !strstr(err.msg, "in.json") || !strstr(err.msg, needle)) {
        fprintf(stderr, "FAIL: %s\n  -> ok=%d msg=\"%s\", want \"%s\"\n", text, ok, err.msg,
                needle);
        n_failures++;
    }
    deck_free(&d);
}

static void test_refusals(void)
{
    refuse("", "JSON");
    refuse("{\"title\": \"t\", \"slides\": [}", "JSON");
    refuse("\"just a string\"", "object");
    refuse("{\"slides\": [{\"title\": \"a\", \"bullets\": []}]}", "title: missing");
    refuse("{\"title\": \"t\"}", "slides: missing");
    refuse("{\"title\": \"t\", \"slides\": {}}", "slides: expected an array");
    refuse("{\"title\": \"t\", \"slides\": []}", "empty");
    refuse("{\"title\": [], \"slides\": [{\"title\": \"a\", \"bullets\": []}]}",
           "title: expected a string, got an array");
    refuse("{\"title\": \"t\", \"slides\": [{\"title\": \"a\"}]}", "slides[0].bullets: missing");
    refuse("{\"title\": \"t\", \"slides\": [{\"title\": \"a\", \"bullets\": [true]}]}",
           "slides[0].bullets[0]");
    refuse("{\"title\": \"t\", \"slides\": [{\"title\": \"a\", \"bullets\": [], \"notes\": 3}]}",
           "slides[0].notes: expected a string, got a number");
    refuse("{\"title\": \"t\", \"slides\": [{\"title\": \"a\", \"bullets\": [{\"level\": 1}]}]}",
           "slides[0].bullets[0].text: missing");
    refuse("{\"title\": \"t\", \"slides\": [{\"title\": \"a\", \"bullets\": "
           "[{\"text\": \"x\", \"level\": 1.5}]}]}",
           "level");
    refuse("{\"title\": \"t\", \"slides\": [{\"title\": \"a\", \"bullets\": [], \"image\": 7}]}",
           "slides[0].image");
    refuse("{\"title\": \"t\", \"slides\": [{\"title\": \"a\", \"bullets\": []}, 5]}",
           "slides[1]: expected an object");
    refuse("{\"title\": \"\xff\", \"slides\": []}", "UTF-8");
}

int main(void)
{
    test_read_and_round_trip();
    test_refusals();
    if (n_failures) {
        fprintf(stderr, "%d failures\n", n_failures);
        return 1;
    }
    printf("deck outline: all checks passed\n");
    return 0;
}

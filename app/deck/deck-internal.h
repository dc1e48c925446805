/* deck-internal.h: what the deck's exports share: the slide geometry, which
 * the PPTX states in EMU and the PDF draws in points, and the text fitting
 * (deck-pdf.c) whose shrink factors the PPTX writes as normAutofit, so that
 * both exports shrink a crowded slide alike. Private to app/deck. */
#ifndef WENSHU_DECK_INTERNAL_H
#define WENSHU_DECK_INTERNAL_H

#include "deck.h"

enum {
    DECK_EMU_W = 12192000, /* 13.333 in: 16:9 */
    DECK_EMU_H = 6858000,  /* 7.5 in */
    DECK_EMU_PER_PT = 12700,
    DECK_BULLET_HANG = 342900, /* 27 pt from the bullet to the text */
    DECK_LEVEL_STEP = 457200,  /* 36 pt more indent a level */
};

/* A rectangle on the slide in EMU, from the top left corner. */
struct deck_box {
    long x, y, w, h;
};

enum deck_box_id {
    DECK_BOX_TOP_BAR,     /* the accent band across the top (theme->top_bar) */
    DECK_BOX_COVER_TITLE, /* the title slide's title, anchored at the bottom */
    DECK_BOX_COVER_RULE,  /* the rule between title and subtitle (theme->title_rule) */
    DECK_BOX_COVER_SUBTITLE,
    DECK_BOX_TITLE,       /* a content slide's title, anchored in the middle */
    DECK_BOX_TITLE_RULE,  /* the rule under it (theme->title_rule) */
    DECK_BOX_BODY,        /* the bullets, full width */
    DECK_BOX_BODY_NARROW, /* the bullets beside a picture */
    DECK_BOX_PICTURE,     /* the picture slot */
};

struct deck_box deck_box_get(enum deck_box_id id);

/* A bullet's font size at level, before fitting, in points. */
double deck_level_pt(const struct deck_theme *theme, int level);
/* The bullet character of a level ("•", "–"). */
const char *deck_level_bullet(int level);

/* How much a slide's text shrinks to fit its boxes: 1 (not at all) down to
 * DECK_MIN_*_SCALE. */
#define DECK_MIN_TITLE_SCALE 0.5
#define DECK_MIN_BODY_SCALE 0.3
struct deck_fit {
    double title_scale;
    double body_scale;
};

/* Measure the slide's text (page 0 is the title slide; page i the deck's
 * slide i - 1) with pango and the theme's fonts. */
void deck_fit_page(const struct deck *deck, const struct deck_theme *theme, int page,
                   struct deck_fit *fit);

#endif /* WENSHU_DECK_INTERNAL_H */

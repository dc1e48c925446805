/* gw-fonts.c: which installed font stands in for each face GB/T 9704 names
 * (仿宋, 小标宋, 黑体, 楷体, 宋体). Each face has a table of acceptable names,
 * the face itself first; the first one fontconfig lists as installed wins.
 * When none is installed, the face falls back to an installed CJK serif (or
 * sans for 黑体) and the choice is marked substituted, so that the CLI and the
 * GUI can tell the user (gw_fonts_describe). */
#include <fontconfig/fontconfig.h>
#include <stdio.h>
#include <string.h>

#include "gw-export.h"

/* The names a face may go by. The first n_own are the face itself (its
 * Chinese, _GB2312 and English names); the rest are acceptable stand-ins. */
struct face_table {
    const char *face;
    const char *names[8]; /* NULL-terminated */
    int n_own;
    bool sans;            /* the last resort is a CJK sans, not a serif */
};

static const struct face_table tables[] = {
    {"仿宋", {"仿宋_GB2312", "仿宋", "FangSong", "FangSong_GB2312", "STFangsong", NULL}, 4,
     false},
    {"小标宋", {"方正小标宋简体", "方正小标宋_GBK", "小标宋", "FZXiaoBiaoSong-B05S", NULL}, 4,
     false},
    {"黑体", {"黑体", "SimHei", "STHeiti", NULL}, 2, true},
    {"楷体", {"楷体_GB2312", "楷体", "KaiTi", "KaiTi_GB2312", "STKaiti", "AR PL UKai CN", NULL}, 4,
     false},
    {"宋体", {"宋体", "SimSun", "NSimSun", "STSong", NULL}, 2, false},
};

/* True when fontconfig lists a font whose family is name (any of its names). */
static bool family_installed(FcConfig *config, const char *name)
{
    FcPattern *pat = FcPatternCreate();
    FcObjectSet *os = FcObjectSetBuild(FC_FAMILY, (char *)NULL);
    bool found = false;
    if (pat && os && FcPatternAddString(pat, FC_FAMILY, (const FcChar8 *)name)) {
        FcFontSet *set = FcFontList(config, pat, os);
        found = set && set->nfont > 0;
        if (set)
            FcFontSetDestroy(set);
    }
    if (os)
        FcObjectSetDestroy(os);
    if (pat)
        FcPatternDestroy(pat);
    return found;
}

/* How well a family name suits a style: serif faces are Ming/Song/Serif,
 * sans faces Hei/Gothic/Sans; simplified-Chinese variants first. */
static int fallback_score(const char *family, bool sans)
{
    static const char *const serif_words[] = {"Ming", "Song", "Serif", "宋", "明"};
    static const char *const sans_words[] = {"Hei", "Gothic", "Sans", "黑"};
    const char *const *words = sans ? sans_words : serif_words;
    size_t n = sans ? sizeof sans_words / sizeof sans_words[0]
                    : sizeof serif_words / sizeof serif_words[0];
    int score = 0;
    for (size_t i = 0; i < n; i++)
        if (strstr(family, words[i]))
            score += 4;
    if (!sans && strstr(family, "Sans"))
        score -= 4;
    if (strstr(family, " CN") || strstr(family, " SC") || strstr(family, "GB"))
        score += 2;
    if (strstr(family, "Mono") || strstr(family, "Sharp") || strstr(family, "MBE"))
        score -= 1;
    return score;
}

/* The installed family that covers Chinese (lang zh-cn) and best suits the
 * style, copied into out[size]; false when no Chinese font is installed. */
static bool cjk_fallback(FcConfig *config, bool sans, char *out, size_t size)
{
    FcPattern *pat = FcPatternCreate();
    FcObjectSet *os = FcObjectSetBuild(FC_FAMILY, (char *)NULL);
    FcFontSet *set = NULL;
    int best = -1000;
    if (pat && os && FcPatternAddString(pat, FC_LANG, (const FcChar8 *)"zh-cn"))
        set = FcFontList(config, pat, os);
    for (int i = 0; set && i < set->nfont; i++) {
        FcChar8 *family = NULL;
        if (FcPatternGetString(set->fonts[i], FC_FAMILY, 0, &family) != FcResultMatch)
            continue;
        int score = fallback_score((const char *)family, sans);
        /* ties: the alphabetically first, so that the choice is stable */
        if (score > best || (score == best && strcmp((const char *)family, out) < 0)) {
            best = score;
            snprintf(out, size, "%s", (const char *)family);
        }
    }
    if (set)
        FcFontSetDestroy(set);
    if (os)
        FcObjectSetDestroy(os);
    if (pat)
        FcPatternDestroy(pat);
    return best > -1000;
}

static bool resolve_face(FcConfig *config, const struct face_table *t, struct gw_font_choice *c)
{
    c->face = t->face;
    for (int i = 0; t->names[i]; i++)
        if (family_installed(config, t->names[i])) {
            snprintf(c->family, sizeof c->family, "%s", t->names[i]);
            c->substituted = i >= t->n_own;
            return true;
        }
    c->substituted = true;
    c->family[0] = '\0';
    return cjk_fallback(config, t->sans, c->family, sizeof c->family);
}

bool gw_fonts_resolve(struct gw_fonts *fonts, struct gw_err *err)
{
    FcConfig *config = FcConfigReference(NULL); /* the current configuration, loaded once */
    if (!config)
        return gw_fail(err, "fonts: fontconfig could not load its configuration");
    struct gw_font_choice *choices[] = {&fonts->fangsong, &fonts->xiaobiaosong, &fonts->heiti,
                                        &fonts->kaiti, &fonts->songti};
    bool ok = true;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0] && ok; i++)
        ok = resolve_face(config, &tables[i], choices[i]);
    FcConfigDestroy(config);
    if (!ok)
        return gw_fail(err, "fonts: no Chinese (CJK) font is installed; install e.g. "
                            "fonts-arphic-uming or fonts-wqy-zenhei");
    return true;
}

void gw_fonts_describe(const struct gw_fonts *fonts, char *out, size_t size)
{
    const struct gw_font_choice *choices[] = {&fonts->fangsong, &fonts->xiaobiaosong,
                                              &fonts->heiti, &fonts->kaiti, &fonts->songti};
    size_t used = 0;
    if (size == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
        const struct gw_font_choice *c = choices[i];
        if (!c->substituted || used >= size)
            continue;
        int n = snprintf(out + used, size - used, "%s → %s（未安装%s）\n", c->face, c->family,
                         c->face);
        if (n < 0)
            break;
        used += (size_t)n < size - used ? (size_t)n : size - used - 1;
    }
}

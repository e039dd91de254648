// Fontconfig: the font libass will draw burned captions with, looked up before anything is drawn.
#include "CMediaShims.h"
#include <fontconfig/fontconfig.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void cms_copy(char *out, size_t size, const char *text) {
    if (size == 0) return;
    snprintf(out, size, "%s", text ? text : "");
}

int CMediaShims_font_match(const char *pattern, char *family, size_t family_size, char *file, size_t file_size,
                           char *err, size_t err_size) {
    cms_copy(family, family_size, "");
    cms_copy(file, file_size, "");
    // The process's configuration (FONTCONFIG_FILE and the system's files), as libass loads it.
    FcConfig *config = FcInitLoadConfigAndFonts();
    if (config == NULL) {
        cms_copy(err, err_size, "fontconfig cannot load its configuration");
        return -1;
    }
    int rc = -1;
    FcPattern *wanted = FcNameParse((const FcChar8 *)pattern);
    FcPattern *found = NULL;
    if (wanted == NULL) {
        cms_copy(err, err_size, "fontconfig cannot parse the font pattern");
        goto done;
    }
    FcConfigSubstitute(config, wanted, FcMatchPattern);
    FcDefaultSubstitute(wanted);
    FcResult result = FcResultNoMatch;
    found = FcFontMatch(config, wanted, &result);
    FcChar8 *path = NULL, *name = NULL;
    if (found == NULL || FcPatternGetString(found, FC_FILE, 0, &path) != FcResultMatch || path == NULL) {
        cms_copy(err, err_size, "fontconfig finds no font");
        goto done;
    }
    if (access((const char *)path, R_OK) != 0) {
        snprintf(err, err_size, "fontconfig's font %s cannot be read", (const char *)path);
        goto done;
    }
    if (FcPatternGetString(found, FC_FAMILY, 0, &name) == FcResultMatch && name != NULL) {
        cms_copy(family, family_size, (const char *)name);
    }
    cms_copy(file, file_size, (const char *)path);
    rc = 0;
done:
    if (found) FcPatternDestroy(found);
    if (wanted) FcPatternDestroy(wanted);
    FcConfigDestroy(config);
    return rc;
}

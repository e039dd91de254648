// FFmpeg log callback: formats in C so Swift never sees a va_list.
#include "CMediaShims.h"
#include <stdatomic.h>
#include <stdarg.h>
#include <libavutil/log.h>

static _Atomic(CMediaShims_log_handler) cms_handler = NULL;
static atomic_int cms_max_level = AV_LOG_QUIET;

static void cms_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > atomic_load(&cms_max_level)) return;
    CMediaShims_log_handler handler = atomic_load(&cms_handler);
    if (handler == NULL) return;
    char line[1024];
    int print_prefix = 1;  // per call: no shared state between threads
    va_list copy;
    va_copy(copy, vl);
    av_log_format_line2(avcl, level, fmt, copy, line, (int)sizeof line, &print_prefix);
    va_end(copy);
    handler(level, line);
}

void CMediaShims_ffmpeg_log_install(int max_level, CMediaShims_log_handler handler) {
    atomic_store(&cms_handler, handler);
    atomic_store(&cms_max_level, handler ? max_level : AV_LOG_QUIET);
    av_log_set_callback(cms_log_callback);
}

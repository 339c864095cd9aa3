// The one runtime function the agent needs that the embedded standard library
// leaves to the platform: Double(String) calls it to parse a decimal in the
// C locale (sensor files, config floats). Same contract as the full runtime:
// returns where parsing stopped, or NULL when the value overflows.
#define _GNU_SOURCE 1
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

const char *_swift_stdlib_strtod_clocale(const char *nptr, double *outResult) {
    pthread_once(&c_locale_once, make_c_locale);
    char *end;
    errno = 0;
    double result = strtod_l(nptr, &end, c_locale);
    *outResult = result;
    if (errno == ERANGE && isinf(result)) return NULL;
    return end;
}

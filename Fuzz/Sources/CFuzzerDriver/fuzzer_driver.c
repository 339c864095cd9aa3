// Intentionally empty: the target exists to carry fuzzer_driver.h; the symbol
// comes from libFuzzer, linked in by -sanitize=fuzzer.
#include "fuzzer_driver.h"

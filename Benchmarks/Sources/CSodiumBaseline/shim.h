// Why this shim exists: the baseline benchmark calls libsodium directly, with
// no Kognita wrapper in between, to measure a bare Ed25519 verify.
#include <sodium.h>

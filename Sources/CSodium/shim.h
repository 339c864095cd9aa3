// Why this shim exists: a system-library target needs one header to give the
// Swift importer; it pulls in libsodium's umbrella header as installed by
// Debian's libsodium-dev. Only KognitaCore imports CSodium.
#ifndef KOGNITA_CSODIUM_SHIM_H
#define KOGNITA_CSODIUM_SHIM_H
#include <sodium.h>
#endif

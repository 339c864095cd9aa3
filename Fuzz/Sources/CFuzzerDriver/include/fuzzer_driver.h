// Why this header exists: SwiftPM links an executable target with `main`
// aliased to `<Target>_main`, so libFuzzer's own main() is never used. The
// harness defines that entry point and hands control to libFuzzer through its
// public driver API, declared here so Swift calls it with the C ABI.
#ifndef KOGNITA_FUZZER_DRIVER_H
#define KOGNITA_FUZZER_DRIVER_H
#include <stddef.h>
#include <stdint.h>

typedef int (*kognita_fuzz_callback)(const uint8_t *data, size_t size);

/// libFuzzer's driver (compiler-rt, LLVM 11 and later).
int LLVMFuzzerRunDriver(int *argc, char ***argv, kognita_fuzz_callback callback);

#endif

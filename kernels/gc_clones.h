/* GC_CLONES: compile a hot function twice, for AVX2 and for the baseline ISA, and pick one at
 * load time (GCC function multi-versioning through an ifunc resolver). A wheel built without
 * -march=native then still uses 256-bit vectors where the CPU has them. Only on x86-64 Linux
 * with GCC (ifunc needs glibc); elsewhere, or with -DGC_NO_CLONES, a plain function.
 * Not "fma": with -std=c99 GCC does not contract a*b+c, so both clones round the same way. */
#ifndef GRADCORE_CLONES_H
#define GRADCORE_CLONES_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(GC_NO_CLONES)
#define GC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GC_CLONES
#endif

#endif

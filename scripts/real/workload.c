/* Guest workload for the real-kernel dumps (scripts/real/build.mjs): leaves anonymous, THP,
 * hugetlb and freed-then-reported memory in a QEMU guest. Built static on the host so the
 * busybox initramfs needs no libc. Every page it keeps is filled with a non-zero pattern, so
 * none of them is a zero page; freed memory was non-zero too, so a reported page that reads
 * back as zero was discarded by the host, not left zero by us.
 *
 *   workload anon MiB      4 KiB anonymous pages (MADV_NOHUGEPAGE), kept until killed
 *   workload thp MiB       2 MiB-aligned anonymous memory with MADV_HUGEPAGE, kept
 *   workload hugetlb N     N hugetlb pages (MAP_HUGETLB, 2 MiB), touched and kept
 *   workload free MiB      touch MiB of anonymous memory, then exit (it becomes free pages)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/mman.h>

#define MIB (1024UL * 1024UL)
#define HUGE (2UL * MIB)

static void fill(unsigned char *p, size_t len, uint32_t seed) {
  uint32_t x = seed | 1;
  for (size_t i = 0; i < len; i += sizeof x) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    memcpy(p + i, &x, sizeof x);
  }
}

static void *map(size_t len, int extra) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
  if (p == MAP_FAILED) { perror("workload: mmap"); exit(1); }
  return p;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: workload anon|thp|hugetlb|free N\n"); return 2; }
  const char *mode = argv[1];
  size_t n = strtoul(argv[2], NULL, 10);
  unsigned char *p;
  size_t len;
  if (!strcmp(mode, "anon") || !strcmp(mode, "free")) {
    len = n * MIB;
    p = map(len, 0);
    madvise(p, len, MADV_NOHUGEPAGE);
  } else if (!strcmp(mode, "thp")) {
    len = n * MIB;
    unsigned char *raw = map(len + HUGE, 0);
    p = (unsigned char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
    if (madvise(p, len, MADV_HUGEPAGE)) perror("workload: madvise(MADV_HUGEPAGE)");
  } else if (!strcmp(mode, "hugetlb")) {
    len = n * HUGE;
    p = map(len, MAP_HUGETLB);
  } else {
    fprintf(stderr, "workload: unknown mode %s\n", mode);
    return 2;
  }
  fill(p, len, (uint32_t)getpid() * 2654435761u);
  printf("VMCF: workload %s %zu MiB at %p\n", mode, len / MIB, (void *)p);
  fflush(stdout);
  if (!strcmp(mode, "free")) return 0;
  for (;;) pause();
}

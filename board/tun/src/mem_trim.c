/*
 * Dropping the start-up-only pages of mapped files from this process's page tables.
 *
 * Node touches far more of its 100 MB executable while starting (the dynamic linker's symbol
 * tables, V8's snapshot, module loading, our own warm-up) than it runs afterwards; those pages stay
 * in the resident set until memory gets tight. Once the daemon has started, MADV_DONTNEED on the
 * read-only private file mappings removes them from the page tables: the pages stay in the page
 * cache, and any the daemon runs again come back on a minor fault, so the resident set becomes the
 * working set.
 *
 * Only mappings that cannot hold data of this process are touched: backed by a file, private, not
 * writable, and with no anonymous (copy-on-write) pages, per /proc/self/smaps. A private page that
 * was written and then made read-only (RELRO) is anonymous and would be lost; such mappings are
 * skipped whole.
 */
#define _GNU_SOURCE
#include "mem_trim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
  unsigned long lo, hi;
  long rss_kb;
  int candidate;
} mapping_t;

static void drop(const mapping_t *m, mem_trim_result_t *r) {
  if (m->rss_kb <= 0) return;
  if (madvise((void *)m->lo, m->hi - m->lo, MADV_DONTNEED) != 0) {
    r->failed++; /* locked, or unmapped meanwhile: leave it */
    return;
  }
  r->mappings++;
  r->bytes += (unsigned long long)m->rss_kb * 1024u;
}

int mem_trim_file_pages(mem_trim_result_t *r) {
  memset(r, 0, sizeof *r);
  FILE *f = fopen("/proc/self/smaps", "re");
  if (f == NULL) return errno;
  char line[4096 + 256];
  mapping_t m = {0};
  /* A mapping's header is followed by its "Key: value kB" lines; it is decided (and dropped) only
   * once its "Anonymous:" line was read, which comes after "Rss:". */
  while (fgets(line, sizeof line, f) != NULL) {
    const char *sp = strchr(line, ' '), *colon = strchr(line, ':');
    if (sp != NULL && (colon == NULL || colon > sp)) { /* "lo-hi perms offset dev inode path" */
      char perms[8] = "", path[8] = "";
      unsigned long lo = 0, hi = 0;
      int n = sscanf(line, "%lx-%lx %7s %*s %*s %*s %7s", &lo, &hi, perms, path);
      m = (mapping_t){.lo = lo, .hi = hi, .rss_kb = 0,
                      .candidate = n == 4 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && path[0] == '/'};
      continue;
    }
    if (!m.candidate) continue;
    if (strncmp(line, "Rss:", 4) == 0) {
      m.rss_kb = strtol(line + 4, NULL, 10);
    } else if (strncmp(line, "Anonymous:", 10) == 0) {
      if (strtol(line + 10, NULL, 10) == 0) drop(&m, r);
      m.candidate = 0;
    }
  }
  fclose(f);
  return 0;
}

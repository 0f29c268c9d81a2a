#ifndef OUTPOST_MEM_TRIM_H
#define OUTPOST_MEM_TRIM_H

typedef struct {
  unsigned mappings;        /* mappings dropped from the page tables */
  unsigned failed;          /* candidates madvise refused */
  unsigned long long bytes; /* their resident size before */
} mem_trim_result_t;

/* Drops the resident pages of clean read-only private file mappings (see mem_trim.c). Returns 0 or
 * an errno from opening /proc/self/smaps. */
int mem_trim_file_pages(mem_trim_result_t *r);

#endif

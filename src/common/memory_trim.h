// Giving freed heap memory back to the operating system.
//
// glibc keeps memory freed by a thread in that thread's arena for reuse and returns it to the
// kernel only when asked (malloc_trim) or when it sits at the very top of the main heap. A
// process that flushes a few hundred MB of chunks or runs a query over a GB of them would
// otherwise keep that high-water mark as RSS for good. Callers that just freed a lot request a
// trim; a background thread performs it (it walks every arena, a few ms) once requests have
// stopped for half a second, so the request costs the caller nothing and a burst of queries
// reuses its memory instead of faulting it in again. Requests made while a trim runs are merged
// into one more trim. No-op on other C libraries.
#pragma once

namespace norn {

enum class TrimWhen {
  // Once requests stop, or at the next request once the resident set has grown 32 MB since
  // the last trim: ingestion may never pause, and memory freed into one arena is not reused by
  // the others, so without this its flushes would climb well above their working set.
  kQuietOrGrown,
  // Only once requests stop (queries): trimming between the queries of a burst made each one
  // fault in again the memory the previous one freed. On this project's 2-core VM a page fault
  // costs 12-19 us; a 5 ms "newest 1000 lines" query right after a large one took 2-3 ms
  // longer, for no lower peak (querybench VmHWM 90-103 MB either way).
  kQuiet,
};

// Thread-safe; starts the trimming thread on first use.
void RequestMemoryTrim(TrimWhen when = TrimWhen::kQuietOrGrown);

// Trims now, on the calling thread (tests; shutdown paths).
void TrimMemoryNow();

// The process's resident set size in bytes (/proc/self/statm), or 0 where unknown.
long ResidentBytes();

// Sets up glibc's malloc for the server; call once, before threads start. Each setting is left
// as it is where the environment sets it (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_,
// MALLOC_TRIM_THRESHOLD_, or any GLIBC_TUNABLES for the thresholds).
// - Arenas: at most two per core (its default is eight). Memory freed into one arena is not
//   reused by threads of another, and the server's many short-lived allocations (push decoding,
//   head segments, flushes) spread over all of them: with 20,000 streams the cap took 20-30 MB
//   off the ingest peak RSS.
// - Thresholds fixed at 32 MiB (mmap) and 8 MiB (trim). glibc's defaults map every buffer of
//   128 KiB or more afresh and give the top of a heap back as soon as 128 KiB of it is free, so
//   the megabyte buffers of each push (request body, decoded lines, WAL frames) were faulted in
//   page by page on every request: 8-12% of the server's CPU on the ingest benchmark. Freed
//   memory now stays for the next request; RequestMemoryTrim still returns it when load stops.
//   A larger trim threshold saved no more CPU and let query RSS climb (64 MiB: querybench
//   peak 129-139 MB against 82-84 MB).
void TuneMalloc();

}  // namespace norn

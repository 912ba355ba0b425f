// Standard process_* metrics (the names Prometheus' Go client exports, so stock dashboards and
// alerts work) and the build_info gauges Loki dashboards read.
//
// RegisterProcessMetrics() adds a collector to `registry` that reads /proc at each scrape:
//   process_cpu_seconds_total       counter  user + system CPU time (/proc/self/stat)
//   process_resident_memory_bytes   gauge    RSS (/proc/self/stat rss * page size)
//   process_virtual_memory_bytes    gauge    VSZ (/proc/self/stat vsize)
//   process_open_fds                gauge    entries in /proc/self/fd
//   process_max_fds                 gauge    RLIMIT_NOFILE soft limit
//   process_start_time_seconds      gauge    Unix time the process started (btime + starttime)
// A value whose source cannot be read is left out of that scrape. Call once per registry
// (a second call would emit every sample twice). Thread-safe, like the collector it adds.
#pragma once

#include <string_view>

#include "common/metrics.h"

namespace norn::metrics {

void RegisterProcessMetrics(Registry& registry);

// Registers gauges loki_build_info and norn_build_info, labelled {branch, goversion, revision,
// version} and set to 1. `compiler` goes into `goversion` so Loki's dashboards keep working.
// Calling it again with different values adds another series.
void RegisterBuildInfo(Registry& registry, std::string_view version, std::string_view revision,
                       std::string_view branch, std::string_view compiler);

}  // namespace norn::metrics

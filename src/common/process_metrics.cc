#include "common/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace norn::metrics {
namespace {

// Reads a small /proc file whole. Empty on error.
std::optional<std::string> ReadProcFile(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      if (n < 0)
        return std::nullopt;
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

// The fields of /proc/self/stat we use, already in base units.
struct ProcStat {
  double cpu_seconds = 0;
  double start_ticks = 0;  // Clock ticks after boot.
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

std::optional<ProcStat> ReadProcStat() {
  const std::optional<std::string> text = ReadProcFile("/proc/self/stat");
  if (!text)
    return std::nullopt;
  // The command name (field 2) is in parentheses and may contain spaces or ')'; fields after the
  // last ')' are numbered from 3 (state).
  const size_t paren = text->rfind(')');
  if (paren == std::string::npos)
    return std::nullopt;
  const std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(*text).substr(paren + 1), ' ', absl::SkipWhitespace());
  // f[i] is field i + 3: utime 14, stime 15, starttime 22, vsize 23, rss 24.
  if (f.size() < 22)
    return std::nullopt;
  uint64_t utime, stime, start, vsize;
  int64_t rss;
  if (!absl::SimpleAtoi(f[11], &utime) || !absl::SimpleAtoi(f[12], &stime) ||
      !absl::SimpleAtoi(f[19], &start) || !absl::SimpleAtoi(f[20], &vsize) ||
      !absl::SimpleAtoi(f[21], &rss)) {
    return std::nullopt;
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  ProcStat s;
  s.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  s.start_ticks = static_cast<double>(start);
  s.virtual_bytes = static_cast<double>(vsize);
  s.resident_bytes = static_cast<double>(rss) * page;
  return s;
}

// Boot time in Unix seconds, from the `btime` line of /proc/stat.
std::optional<double> ReadBootTime() {
  const std::optional<std::string> text = ReadProcFile("/proc/stat");
  if (!text)
    return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::StartsWith(line, "btime "))
      continue;
    uint64_t btime;
    if (absl::SimpleAtoi(line.substr(6), &btime))
      return static_cast<double>(btime);
  }
  return std::nullopt;
}

std::optional<double> CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return std::nullopt;
  double n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.')
      ++n;
  }
  ::closedir(dir);
  return n - 1;  // Not counting the descriptor opendir() itself holds.
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  // The start time cannot change; compute it once (reading /proc/stat is not free on big hosts).
  std::optional<double> start_time;
  if (const auto stat = ReadProcStat(); stat.has_value()) {
    if (const auto btime = ReadBootTime(); btime.has_value()) {
      start_time = *btime + stat->start_ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
  }
  registry.AddCollector([start_time](Exposition& out) {
    if (const auto stat = ReadProcStat(); stat.has_value()) {
      out.AddCounter("process_cpu_seconds_total",
                     "Total user and system CPU time spent in seconds.", stat->cpu_seconds);
      out.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                   stat->resident_bytes);
      out.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                   stat->virtual_bytes);
    }
    if (const auto fds = CountOpenFds(); fds.has_value()) {
      out.AddGauge("process_open_fds", "Number of open file descriptors.", *fds);
    }
    rlimit limit;
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      out.AddGauge("process_max_fds", "Maximum number of open file descriptors.",
                   limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                                   : static_cast<double>(limit.rlim_cur));
    }
    if (start_time.has_value()) {
      out.AddGauge("process_start_time_seconds",
                   "Start time of the process since unix epoch in seconds.", *start_time);
    }
  });
}

void RegisterBuildInfo(Registry& registry, std::string_view version, std::string_view revision,
                       std::string_view branch, std::string_view compiler) {
  const std::vector<std::string> labels = {"branch", "goversion", "revision", "version"};
  const std::initializer_list<std::string_view> values = {branch, compiler, revision, version};
  registry
      .Gauge("loki_build_info",
             "A metric with a constant '1' value labeled by version, revision, branch, and "
             "goversion from which loki was built.",
             labels)
      .WithLabels(values)
      .Set(1);
  registry
      .Gauge("norn_build_info",
             "A metric with a constant '1' value labeled by version, revision, branch, and "
             "goversion (the C++ compiler) from which norn was built.",
             labels)
      .WithLabels(values)
      .Set(1);
}

}  // namespace norn::metrics

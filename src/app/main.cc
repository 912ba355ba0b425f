// The `norn` binary: parses flags (Loki's names and Go flag syntax), loads the configuration and
// runs the selected modules until SIGTERM/SIGINT.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "app/app.h"
#include "common/build_info.h"
#include "common/logging.h"
#include "common/memory_trim.h"
#include "common/metrics.h"
#include "common/process_metrics.h"
#include "common/strings.h"
#include "config/config.h"
#include "config/flags.h"

namespace {

std::string VersionText() {
  using namespace norn::build_info;
  return absl::StrCat("norn, version ", norn::AV(Version()), " (branch: ", norn::AV(Branch()),
                      ", revision: ", norn::AV(Revision()), ")\n  build date:       ",
                      norn::AV(BuildDate()), "\n  compiler:         ", norn::AV(Compiler()),
                      "\n  platform:         linux/amd64\n");
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM/SIGINT are taken synchronously by App::Run (sigtimedwait); block them before any
  // thread exists so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  norn::TuneMalloc();

  auto command_line = norn::config::ParseCommandLine(argc, argv);
  if (!command_line.ok()) {
    std::cerr << "error: " << command_line.status().message() << "\n"
              << "Run with -help to list the flags.\n";
    return 1;
  }
  if (command_line->help) {
    std::cout << norn::config::FlagsHelp();
    return 0;
  }
  if (command_line->version) {
    std::cout << VersionText();
    return 0;
  }
  auto config = norn::config::LoadConfig(*command_line);
  if (!config.ok()) {
    std::cerr << "failed parsing config: " << config.status().message() << "\n";
    return 1;
  }
  auto level = norn::log::ParseLevel(config->server.log_level);
  auto format = norn::log::ParseFormat(config->server.log_format);
  if (!level.ok() || !format.ok()) {
    std::cerr << "invalid logging config: "
              << (level.ok() ? format.status().message() : level.status().message()) << "\n";
    return 1;
  }
  norn::log::SetLevel(*level);
  norn::log::SetFormat(*format);
  if (command_line->print_config_stderr) {
    std::cerr << norn::config::DumpYaml(*config, norn::config::DumpMode::kAll);
  }

  auto& registry = norn::metrics::Registry::Default();
  norn::metrics::RegisterProcessMetrics(registry);
  norn::metrics::RegisterBuildInfo(registry, norn::build_info::Version(),
                                   norn::build_info::Revision(), norn::build_info::Branch(),
                                   norn::build_info::Compiler());

  norn::app::App app(*std::move(config));
  app.WatchSignals(true);
  absl::Status st = app.Run();
  if (!st.ok()) {
    NORN_LOG(Error).Msg("error running Norn").Err(st);
    return 1;
  }
  return 0;
}

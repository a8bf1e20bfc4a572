// ribbond: resolves the configuration, listens, loads the model, serves until SIGTERM/SIGINT,
// then drains gracefully and exits 0. Exit codes: 0 clean shutdown (or --help/--version/
// --check-config success), 1 start-up failure (cannot listen, cannot load the model),
// 2 configuration error.
#include <csignal>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "server/config.h"
#include "server/daemon.h"
#include "server/logging.h"

extern char** environ;

namespace {

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const size_t eq = text.find('=');
    if (eq != std::string::npos) environment[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return environment;
}

sigset_t ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// Waits for SIGTERM/SIGINT on a thread of its own and asks the daemon to drain.
void StartSignalThread(ribbon::server::Daemon* daemon) {
  std::thread([daemon] {
    const sigset_t signals = ShutdownSignals();
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) return;
    ribbon::server::LogEvent(spdlog::level::info, "signal", {{"signal", strsignal(signal_number)}});
    daemon->RequestShutdown();
  }).detach();
}

int Run(const ribbon::server::ServerConfig& config) {
  if (absl::Status logging = ribbon::server::SetUpLogging(config.log); !logging.ok()) {
    std::fprintf(stderr, "ribbond: %s\n", std::string(logging.message()).c_str());
    return 2;
  }
  ribbon::server::Daemon daemon(config);
  StartSignalThread(&daemon);
  if (absl::Status listening = daemon.Listen(); !listening.ok()) {
    spdlog::error("cannot start: {}", std::string(listening.message()));
    return 1;
  }
  if (absl::Status loaded = daemon.LoadModel(); !loaded.ok()) {
    if (absl::IsCancelled(loaded)) {  // told to stop while loading: not a failure
      spdlog::info("stopped during start-up: {}", std::string(loaded.message()));
      return 0;
    }
    spdlog::error("cannot load the model: {}", std::string(loaded.message()));
    return 1;
  }
  daemon.WaitForShutdownRequest();
  daemon.Drain();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked here, before any thread starts, so that only the signal thread receives them.
  const sigset_t signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<ribbon::server::CommandLine> command_line = ribbon::server::ParseCommandLine(args);
  if (!command_line.ok()) {
    std::fprintf(stderr, "ribbond: %s\n", std::string(command_line.status().message()).c_str());
    return 2;
  }
  if (command_line->help) {
    std::fputs(ribbon::server::HelpText().c_str(), stdout);
    return 0;
  }
  if (command_line->version) {
    std::printf("ribbond %s\n", RIBBON_VERSION);
    return 0;
  }
  absl::StatusOr<ribbon::server::ServerConfig> config =
      ribbon::server::ResolveConfig(*command_line, Environment());
  if (!config.ok()) {
    std::fprintf(stderr, "ribbond: config error: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  if (command_line->probe) {
    absl::StatusOr<std::string> table = ribbon::server::RunCapacityProbe(*config);
    if (!table.ok()) {
      std::fprintf(stderr, "ribbond: probe failed: %s\n",
                   std::string(table.status().message()).c_str());
      return 1;
    }
    std::fputs(table->c_str(), stdout);
    return 0;
  }
  if (command_line->check_config) {
    // Also catch the commonest deployment mistake before anything starts: a wrong model path.
    const std::string model_config = config->model.path + "/config.json";
    if (std::FILE* file = std::fopen(model_config.c_str(), "r")) {
      std::fclose(file);
    } else {
      std::fprintf(stderr, "ribbond: config error: model.path: cannot read %s\n",
                   model_config.c_str());
      return 2;
    }
    std::printf("%s\n", ribbon::server::ConfigToJson(*config).c_str());
    return 0;
  }
  return Run(*config);
}

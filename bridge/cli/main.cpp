// kdap: debug a Kubernetes component on a node from any DAP client.

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "bridge/session/dap_session.h"
#include "dap/asio_byte_stream.h"

namespace {

constexpr const char* kUsage =
    "usage: kdap dap [--log-file FILE] [--log-level trace|debug|info|warn|error]\n"
    "  dap      speak the Debug Adapter Protocol on stdin/stdout (what editors run)\n"
    "  version  print kdap's version\n";

struct Options {
  std::string command;
  std::optional<std::string> log_file;
  std::string log_level = "info";
};

std::optional<Options> parse(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  Options o;
  o.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string flag = std::string("--") + name;
      if (a == flag && i + 1 < argc) return std::string(argv[++i]);
      if (a.starts_with(flag + "=")) return a.substr(flag.size() + 1);
      return std::nullopt;
    };
    if (auto v = value("log-file")) {
      o.log_file = *v;
    } else if (auto l = value("log-level")) {
      o.log_level = *l;
    } else {
      std::cerr << "kdap: unknown argument " << a << "\n" << kUsage;
      return std::nullopt;
    }
  }
  return o;
}

void setup_logging(const Options& o) {
  // In dap mode stdout is the protocol channel: logs go to stderr or a file, never stdout.
  std::shared_ptr<spdlog::logger> logger;
  if (o.log_file) {
    logger = spdlog::basic_logger_mt("kdap", *o.log_file);
  } else {
    logger = std::make_shared<spdlog::logger>("kdap", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  auto level = spdlog::level::from_str(o.log_level);
  if (level == spdlog::level::off && o.log_level != "off") {
    std::cerr << "kdap: unknown --log-level " << o.log_level << " (trace, debug, info, warn, error, off)\n";
    std::exit(2);
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

int run_dap() {
  namespace asio = boost::asio;
  asio::io_context io;
  auto in = kdap::dap::make_stdin_stream(io.get_executor());
  auto out = kdap::dap::make_stdout_stream(io.get_executor());
  // From here on fd 1 is stderr: nothing but DAP can reach the editor's channel, whatever prints.
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  kdap::session::DapSession session(io.get_executor(), *in, *out);
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) {
      spdlog::warn("signal {}: ending the session and restoring the node", sig);
      session.stop(std::string("kdap received signal ") + std::to_string(sig));
    }
  });
  int exit_code = 0;
  asio::co_spawn(io, session.run(), [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::critical("session failed: {}", ex.what());
        exit_code = 1;
      }
    }
    signals.cancel();
    io.stop();
  });
  io.run();
  spdlog::info("kdap exits");
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  auto options = parse(argc, argv);
  if (!options) {
    std::cerr << kUsage;
    return 2;
  }
  if (options->command == "version" || options->command == "--version") {
    std::cout << "kdap 0.1.0\n";
    return 0;
  }
  setup_logging(*options);
  if (options->command == "dap") return run_dap();
  std::cerr << "kdap: unknown command " << options->command << "\n" << kUsage;
  return 2;
}

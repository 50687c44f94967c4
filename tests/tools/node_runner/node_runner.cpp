// Test driver for the node layer: connects to a node the way kdap does (SSH options as kdap's CLI takes them)
// and runs the commands it reads from stdin, one JSON object per line:
//   {"command": "...", "input": "...", "timeout": seconds, "start": false}
// and prints one JSON object per command: {"status": N, "out": "...", "err": "..."} or {"error": "..."}.
// With "start": true the command is started as a long-running process and read to its end instead.
// The end-to-end tests use it to check how commands behave on a real sshd, which no kdap command exposes
// one by one.

#include <cstdlib>
#include <iostream>

#include <unistd.h>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "bridge/config/launch_config.h"
#include "bridge/node/connect.h"

namespace {

boost::asio::awaitable<nlohmann::json> run_one(kdap::node::Node& node, nlohmann::json request) {
  nlohmann::json answer;
  try {
    auto timeout = std::chrono::milliseconds(static_cast<int>(request.value("timeout", 30.0) * 1000));
    if (request.value("start", false)) {
      auto process = co_await node.start(request.value("command", ""));
      std::string out;
      std::string err;
      char buffer[4096];
      for (bool is_err : {false, true}) {
        for (;;) {
          std::size_t n = co_await process->read_some(is_err, buffer);
          if (n == 0) break;
          (is_err ? err : out).append(buffer, n);
        }
      }
      answer["status"] = co_await process->wait();
      answer["out"] = out;
      answer["err"] = err;
    } else {
      auto result = co_await node.run(request.value("command", ""), timeout, request.value("input", ""));
      answer["status"] = result.exit_status;
      answer["out"] = result.out;
      answer["err"] = result.err;
    }
  } catch (const std::exception& e) {
    answer["error"] = e.what();
  }
  co_return answer;
}

boost::asio::awaitable<void> run_all(boost::asio::io_context& io, kdap::config::LaunchConfig config,
                                     int prepare) {
  auto node = co_await kdap::node::connect_node(io.get_executor(), config);
  if (prepare > 0) node->prepare_processes(prepare);
  // stdin is read through Asio: a blocking read would stop the event loop, and with it everything kdap does
  // in the background (prepared channels, the SSH connection's own traffic).
  boost::asio::posix::stream_descriptor in(io, ::dup(STDIN_FILENO));
  std::string pending;
  for (;;) {
    boost::system::error_code ec;
    std::size_t n =
        co_await boost::asio::async_read_until(in, boost::asio::dynamic_buffer(pending), '\n',
                                               boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) break;
    std::string line = pending.substr(0, n - 1);
    pending.erase(0, n);
    if (line.empty()) continue;
    auto answer = co_await run_one(*node, nlohmann::json::parse(line));
    std::cout << answer.dump() << std::endl;
  }
  node->close();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: kdap_node_runner HOST IDENTITY_FILE KNOWN_HOSTS_FILE [PREPARED_PROCESSES]\n";
    return 2;
  }
  kdap::config::LaunchConfig config;
  config.host = argv[1];
  config.identity_file = argv[2];
  config.known_hosts_file = argv[3];
  int prepare = argc > 4 ? std::stoi(argv[4]) : 0;
  // stdout carries the answers; kdap's log goes to stderr, as in kdap itself.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("kdap_node_runner"));
  if (std::getenv("KDAP_NODE_RUNNER_DEBUG")) spdlog::set_level(spdlog::level::trace);
  boost::asio::io_context io;
  int code = 0;
  boost::asio::co_spawn(io, run_all(io, config, prepare), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      std::cerr << "kdap_node_runner: " << ex.what() << "\n";
      code = 1;
    }
  });
  io.run();
  return code;
}

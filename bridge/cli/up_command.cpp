// `kdap up`: the component under dlv, reachable on a local port, for clients that speak Delve's JSON-RPC
// (GoLand's Go Remote, `dlv connect`). The bring-up is the DAP session's, step for step.

#include <signal.h>
#include <unistd.h>

#include <functional>
#include <iostream>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/cli/commands.h"
#include "bridge/cli/endpoint.h"
#include "bridge/cli/run_main.h"
#include "bridge/config/profiles.h"
#include "bridge/session/bring_up.h"
#include "bridge/session/port_forward.h"
#include "bridge/util/race.h"
#include "bridge/util/signal.h"
#include "dap/asio_byte_stream.h"

namespace kdap::cli {
namespace asio = boost::asio;

namespace {

// One line per step; on a terminal the line is rewritten in place so the screen shows the current step.
class StepPrinter {
 public:
  StepPrinter() : live_(::isatty(STDERR_FILENO) != 0) {}
  void step(const std::string& text) {
    if (live_) {
      std::cerr << "\r\033[K"
                << "kdap: " << text << std::flush;
      pending_ = true;
    } else {
      std::cerr << "kdap: " << text << std::endl;
    }
  }
  void line(const std::string& text) {
    finish();
    std::cerr << "kdap: " << text << std::endl;
  }
  void finish() {
    if (pending_) std::cerr << std::endl;
    pending_ = false;
  }

 private:
  bool live_;
  bool pending_ = false;
};

asio::awaitable<void> join_owned(std::shared_ptr<dap::ByteStream> a, std::shared_ptr<dap::ByteStream> b) {
  co_await session::join_streams(*a, *b);
}

config::Json launch_arguments(const UpOptions& options) {
  config::Json args = config::Json::object();
  if (options.profile) {
    args = config::load_profile(options.config_file.value_or(".kdap.yaml"), *options.profile);
  }
  for (const auto& [key, value] : options.overrides) args[key] = value;
  return args;
}

}  // namespace

int run_up(const UpOptions& options) {
  StepPrinter out;
  asio::ip::tcp::endpoint where;
  std::optional<config::LaunchConfig> cfg;
  try {
    where = parse_listen_endpoint(options.listen);
    cfg = config::parse_launch_config(launch_arguments(options));
  } catch (const std::exception& e) {
    std::cerr << "kdap up: " << e.what() << "\n";
    return 2;
  }
  for (const auto& w : cfg->warnings) out.line(w);

  asio::io_context io;
  auto ex = io.get_executor();
  std::string target = config::subject(*cfg);
  session::BringUp run(
      ex, std::move(*cfg), [&](const std::string& m) { out.step(m); },
      [&](const std::string& m) { out.line(m); });
  Signal stop(ex);
  std::string stop_reason;
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  // A signal may come at any moment, bring-up included; it is remembered, not just announced.
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (stop_reason.empty()) stop_reason = "signal " + std::to_string(sig);
        stop.notify();
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  auto wait_stop = [&]() -> asio::awaitable<void> {
    while (stop_reason.empty()) co_await stop.wait();
  };
  // Bound before anything changes on the node: a busy port must not leave the component parked.
  asio::ip::tcp::acceptor acceptor(io);
  try {
    acceptor.open(where.protocol());
    acceptor.bind(where);
    acceptor.listen();
  } catch (const boost::system::system_error& e) {
    std::cerr << "kdap up: cannot listen on " << options.listen << ": " << e.code().message() << "\n";
    return 1;
  }
  int exit_code = 0;

  auto main = [&]() -> asio::awaitable<void> {
    std::string failure;
    try {
      int winner = co_await race(run.start(), wait_stop());
      if (winner == 1) failure = "stopped by " + stop_reason + " while bringing it up";
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      out.finish();
      auto problems = co_await run.tear_down();
      out.line("could not bring " + target + " up: " + failure + (problems.empty() ? "" : "\n" + problems));
      exit_code = 1;
      co_return;
    }
    asio::co_spawn(ex, run.watch_output([](bool, std::string_view text) { std::cout << text << std::flush; }),
                   asio::detached);
    target = run.config().target.text;

    auto bound = acceptor.local_endpoint();
    std::string address = bound.address().to_string() + ":" + std::to_string(bound.port());
    out.line(target + " runs under dlv on " + run.node().describe() + ".");
    out.line("GoLand: Run | Edit Configurations | + | Go Remote, Host 127.0.0.1, Port " +
             std::to_string(bound.port()) + "; or `dlv connect " + address + "`.");
    out.line("Ctrl-C (or SIGTERM) stops dlv and puts " + target + " back.");
    // The documented line for scripts: the local address that reaches dlv.
    std::cout << "kdap up listening at " << address << std::endl;

    auto accept_loop = [&]() -> asio::awaitable<void> {
      for (;;) {
        boost::system::error_code ec;
        asio::ip::tcp::socket socket =
            co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        auto client = std::make_shared<dap::TcpByteStream>(std::move(socket));
        std::shared_ptr<dap::ByteStream> dlv_side;
        try {
          dlv_side = co_await run.node().open_tunnel(run.dlv().port());
        } catch (const std::exception& e) {
          out.line(std::string("a client connected but the tunnel to dlv failed: ") + e.what());
          client->close();
          continue;
        }
        asio::co_spawn(ex, join_owned(client, dlv_side), asio::detached);
      }
    };
    co_await race(either(wait_stop(), run.wait_dlv_gone()), accept_loop());
    if (run.dlv_gone() && stop_reason.empty()) out.line("dlv ended:\n" + run.dlv().last_lines());
    boost::system::error_code ignored;
    acceptor.close(ignored);
    out.line((run.attached() ? "detaching from " : "restoring ") + target +
             (stop_reason.empty() ? "" : " (" + stop_reason + ")"));
    auto problems = co_await run.tear_down();
    out.finish();
    if (problems.empty()) {
      out.line(target + (run.attached() ? " detached; it runs on" : " restored"));
    } else {
      out.line(problems);
      exit_code = 1;
    }
  };
  return run_main(io, signals, main(), exit_code, "kdap up");
}

}  // namespace kdap::cli

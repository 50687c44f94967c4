#pragma once
// Every kdap command ends the same way: its main coroutine finishes (or throws, which is logged and makes the
// exit code 1), the signal handlers are cancelled and the io_context stops.

#include <spdlog/spdlog.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

namespace kdap::cli {

// Runs `main` on `io` to its end; `exit_code` becomes 1 if it threw. Returns `exit_code`.
inline int run_main(boost::asio::io_context& io, boost::asio::signal_set& signals,
                    boost::asio::awaitable<void> main, int& exit_code, const char* what) {
  boost::asio::co_spawn(io, std::move(main), [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::critical("{} failed: {}", what, ex.what());
        exit_code = 1;
      }
    }
    signals.cancel();
    io.stop();
  });
  io.run();
  return exit_code;
}

}  // namespace kdap::cli

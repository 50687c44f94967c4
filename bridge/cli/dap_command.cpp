#include <signal.h>
#include <unistd.h>

#include <iostream>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/cli/commands.h"
#include "bridge/cli/endpoint.h"
#include "bridge/cli/run_main.h"
#include "bridge/session/dap_session.h"
#include "dap/asio_byte_stream.h"

namespace kdap::cli {
namespace asio = boost::asio;

namespace {

int serve_stdio() {
  asio::io_context io;
  auto in = dap::make_stdin_stream(io.get_executor());
  auto out = dap::make_stdout_stream(io.get_executor());
  // From here on fd 1 is stderr: nothing but DAP can reach the editor's channel, whatever prints.
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  session::DapSession session(io.get_executor(), *in, *out);
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) {
      spdlog::warn("signal {}: ending the session and restoring the node", sig);
      session.stop("kdap received signal " + std::to_string(sig));
    }
  });
  int exit_code = 0;
  run_main(io, signals, session.run(), exit_code, "the session");
  spdlog::info("kdap exits");
  return exit_code;
}

int serve_tcp(const asio::ip::tcp::endpoint& where) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, where);
  auto bound = acceptor.local_endpoint();
  // The documented line editors (nvim-dap `server` adapters with port 0) read to learn the port.
  std::cout << "kdap dap listening at " << bound.address().to_string() << ":" << bound.port() << std::endl;
  session::DapSession* current = nullptr;
  bool stopping = false;
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::warn("signal {}: ending the session, restoring the node, and stopping", sig);
    stopping = true;
    if (current) current->stop("kdap received signal " + std::to_string(sig));
    boost::system::error_code ignored;
    acceptor.close(ignored);
  });
  auto serve = [&]() -> asio::awaitable<void> {
    // Sessions run one after another: a node has one debug session per component, and nvim-dap restarts by
    // connecting again.
    while (!stopping) {
      boost::system::error_code ec;
      asio::ip::tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      spdlog::info("editor connected from {}", socket.remote_endpoint(ec).address().to_string());
      dap::TcpByteStream stream(std::move(socket));
      session::DapSession session(io.get_executor(), stream, stream);
      current = &session;
      co_await session.run();
      current = nullptr;
      stream.close();
    }
  };
  int exit_code = 0;
  run_main(io, signals, serve(), exit_code, "the server");
  spdlog::info("kdap exits");
  return exit_code;
}

}  // namespace

int run_dap(const std::optional<std::string>& listen) {
  if (!listen) return serve_stdio();
  asio::ip::tcp::endpoint where;
  try {
    where = parse_listen_endpoint(*listen);
  } catch (const std::invalid_argument& e) {
    std::cerr << "kdap: " << e.what() << "\n";
    return 2;
  }
  try {
    return serve_tcp(where);
  } catch (const boost::system::system_error& e) {
    std::cerr << "kdap: cannot listen on " << *listen << ": " << e.code().message() << "\n";
    return 1;
  }
}

}  // namespace kdap::cli

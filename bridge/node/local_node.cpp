#include "bridge/node/local_node.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/child_process.h"
#include "bridge/util/timeout.h"
#include "dap/asio_byte_stream.h"

namespace kdap::node {
namespace {

asio::awaitable<void> read_all(ChildProcess& child, bool stderr_stream, std::string& into) {
  char buffer[16384];
  for (;;) {
    std::size_t n = co_await child.read_some(stderr_stream, buffer);
    if (n == 0) co_return;
    into.append(buffer, n);
  }
}

class LocalProcess final : public RemoteProcess {
 public:
  explicit LocalProcess(std::unique_ptr<ChildProcess> child) : child_(std::move(child)) {}
  ~LocalProcess() override {
    // Dropping the process object is not a way to stop dlv: callers stop it explicitly. Only reap here.
    if (child_) child_->close_pipes();
  }
  asio::awaitable<std::size_t> read_some(bool stderr_stream, std::span<char> buffer) override {
    co_return co_await child_->read_some(stderr_stream, buffer);
  }
  asio::awaitable<int> wait() override { co_return co_await child_->wait(); }
  asio::awaitable<void> write(std::string data) override { co_await child_->write_stdin(std::move(data)); }
  void close() override { child_->close_pipes(); }

 private:
  std::unique_ptr<ChildProcess> child_;
};

}  // namespace

LocalNode::LocalNode(asio::any_io_executor ex) : ex_(std::move(ex)) {}

asio::awaitable<CommandResult> LocalNode::run(std::string command, Duration timeout, std::string input) {
  using namespace asio::experimental::awaitable_operators;
  ChildProcess child(ex_, {"/bin/sh", "-c", command}, true);
  CommandResult result;
  auto all = [&]() -> asio::awaitable<void> {
    co_await (child.write_stdin_and_close(std::move(input)) && read_all(child, false, result.out) &&
              read_all(child, true, result.err));
    result.exit_status = co_await child.wait();
  };
  try {
    co_await with_timeout(all(), timeout, "command on this machine");
  } catch (const TimeoutError& e) {
    child.kill_group(SIGKILL);
    throw NodeError(std::string(e.what()) + ": " + command.substr(0, 200));
  }
  co_return result;
}

asio::awaitable<std::unique_ptr<RemoteProcess>> LocalNode::start(std::string command, bool keep_stdin) {
  auto child =
      std::make_unique<ChildProcess>(ex_, std::vector<std::string>{"/bin/sh", "-c", command}, keep_stdin);
  co_return std::make_unique<LocalProcess>(std::move(child));
}

asio::awaitable<std::unique_ptr<dap::ByteStream>> LocalNode::open_tunnel(std::uint16_t port) {
  asio::ip::tcp::socket socket(ex_);
  co_await socket.async_connect({asio::ip::make_address_v4("127.0.0.1"), port}, asio::use_awaitable);
  co_return std::make_unique<dap::AsioByteStream<asio::ip::tcp::socket>>(std::move(socket));
}

std::optional<CommandResult> run_here_and_wait(std::string command, Duration timeout) {
  std::optional<CommandResult> result;
  try {
    asio::io_context io;
    LocalNode local(io.get_executor());
    asio::co_spawn(io, local.run(std::move(command), timeout, std::string()),
                   [&](std::exception_ptr e, CommandResult r) {
                     if (!e) result = std::move(r);
                   });
    io.run();
  } catch (const std::exception&) {
    result.reset();  // no way to start a process
  }
  return result;
}

}  // namespace kdap::node

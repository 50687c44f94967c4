#include "bridge/node/proxy_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/child_process.h"
#include "bridge/node/node.h"

namespace kdap::node {
namespace {
constexpr std::size_t kKeptStderr = 2048;
}

std::string expand_proxy_command(std::string_view command, const ProxyTokens& tokens) {
  std::string out;
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (command[i] != '%') {
      out += command[i];
      continue;
    }
    if (i + 1 == command.size())
      throw NodeError("the ProxyCommand ends with a lone %: " + std::string(command));
    switch (command[++i]) {
      case 'h':
        out += tokens.host;
        break;
      case 'p':
        out += tokens.port;
        break;
      case 'r':
        out += tokens.user;
        break;
      case 'n':
        out += tokens.original_host;
        break;
      case '%':
        out += '%';
        break;
      default:
        throw NodeError(
            std::string("the ProxyCommand has the token %") + command[i] +
            ", which kdap does not know (it knows %h, %p, %r, %n and %%): " + std::string(command));
    }
  }
  return out;
}

// Shared with the coroutine that reads the command's stderr, which may outlive the ProxyCommand by the time
// the command takes to end.
struct ProxyCommand::State {
  explicit State(const boost::asio::any_io_executor& ex)
      : ended(ex, boost::asio::steady_timer::time_point::max()) {}
  std::unique_ptr<ChildProcess> child;
  std::string stderr_tail;
  bool stderr_done = false;
  boost::asio::steady_timer ended;
};

namespace {
boost::asio::awaitable<void> keep_stderr(std::shared_ptr<ProxyCommand::State> state) {
  char buffer[1024];
  for (;;) {
    std::size_t n = co_await state->child->read_some(true, buffer);
    if (n == 0) break;
    state->stderr_tail.append(buffer, n);
    if (state->stderr_tail.size() > kKeptStderr)
      state->stderr_tail.erase(0, state->stderr_tail.size() - kKeptStderr);
  }
  state->stderr_done = true;
  state->ended.cancel();
  co_await state->child->wait();  // reaped here, not left a zombie
}
}  // namespace

ProxyCommand::ProxyCommand(const boost::asio::any_io_executor& ex, std::string command)
    : command_(std::move(command)), state_(std::make_shared<State>(ex)) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  descriptor_ = pair[0];
  try {
    state_->child =
        std::make_unique<ChildProcess>(ex, std::vector<std::string>{"/bin/sh", "-c", command_}, pair[1]);
  } catch (...) {
    ::close(descriptor_);
    throw;
  }
  ::fcntl(descriptor_, F_SETFL, ::fcntl(descriptor_, F_GETFL) | O_NONBLOCK);
  spdlog::debug("ssh: connecting through the ProxyCommand `{}` (pid {})", command_, state_->child->pid());
  boost::asio::co_spawn(ex, keep_stderr(state_), boost::asio::detached);
}

ProxyCommand::~ProxyCommand() {
  if (descriptor_ >= 0) ::close(descriptor_);
  // The session's end is closed by now (or never was taken): the command sees its end of the stream; a proxy
  // that lingers is told to go.
  state_->child->kill_group(SIGTERM);
}

int ProxyCommand::take_descriptor() {
  int fd = descriptor_;
  descriptor_ = -1;
  return fd;
}

boost::asio::awaitable<std::string> ProxyCommand::last_words(std::chrono::milliseconds limit) {
  if (!state_->stderr_done) {
    state_->ended.expires_after(limit);
    boost::system::error_code ec;
    co_await state_->ended.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  std::string text = state_->stderr_tail;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  co_return text;
}

}  // namespace kdap::node

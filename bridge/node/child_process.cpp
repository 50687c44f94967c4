#include "bridge/node/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace kdap::node {
namespace {

struct Pipe {
  int read_end = -1;
  int write_end = -1;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  return {fds[0], fds[1]};
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv, int in, int out, int err) {
  ::setsid();
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  // Nothing of kdap's survives into the child but the three pipes.
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  ::signal(SIGPIPE, SIG_DFL);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

}  // namespace

ChildProcess::ChildProcess(const boost::asio::any_io_executor& ex, const std::vector<std::string>& argv,
                           bool with_stdin)
    : stdin_(ex), stdout_(ex), stderr_(ex), pidfd_(ex) {
  Pipe in = with_stdin ? make_pipe() : Pipe{::open("/dev/null", O_RDONLY | O_CLOEXEC), -1};
  Pipe out = make_pipe();
  Pipe err = make_pipe();
  pid_ = ::fork();
  if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid_ == 0) exec_child(argv, in.read_end, out.write_end, err.write_end);
  ::close(in.read_end);
  ::close(out.write_end);
  ::close(err.write_end);
  if (in.write_end >= 0) stdin_.assign(in.write_end);
  stdout_.assign(out.read_end);
  stderr_.assign(err.read_end);
  watch_exit();
}

ChildProcess::ChildProcess(const boost::asio::any_io_executor& ex, const std::vector<std::string>& argv,
                           int stdio)
    : stdin_(ex), stdout_(ex), stderr_(ex), pidfd_(ex) {
  Pipe err = make_pipe();
  pid_ = ::fork();
  if (pid_ < 0) {
    int failure = errno;
    ::close(stdio);
    throw std::system_error(failure, std::generic_category(), "fork");
  }
  if (pid_ == 0) exec_child(argv, stdio, stdio, err.write_end);
  ::close(stdio);
  ::close(err.write_end);
  stderr_.assign(err.read_end);
  watch_exit();
}

void ChildProcess::watch_exit() {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) throw std::system_error(errno, std::generic_category(), "pidfd_open");
  pidfd_.assign(pidfd);
}

ChildProcess::~ChildProcess() {
  if (!status_ && pid_ > 0) {
    // Abandoned (timeout or shutdown): do not leave a zombie or a stray group behind.
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

boost::asio::awaitable<std::size_t> ChildProcess::read_some(bool stderr_stream, std::span<char> buffer) {
  auto& pipe = stderr_stream ? stderr_ : stdout_;
  if (!pipe.is_open()) co_return 0;
  boost::system::error_code ec;
  std::size_t n = co_await pipe.async_read_some(boost::asio::buffer(buffer.data(), buffer.size()),
                                                boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  if (ec) co_return 0;
  co_return n;
}

boost::asio::awaitable<void> ChildProcess::write_stdin_and_close(std::string data) {
  if (!stdin_.is_open()) co_return;
  boost::system::error_code ec;
  if (!data.empty()) {
    co_await boost::asio::async_write(stdin_, boost::asio::buffer(data),
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  stdin_.close(ec);
}

boost::asio::awaitable<void> ChildProcess::write_stdin(std::string data) {
  if (!stdin_.is_open()) throw std::runtime_error("the process's stdin is closed");
  co_await boost::asio::async_write(stdin_, boost::asio::buffer(data), boost::asio::use_awaitable);
}

boost::asio::awaitable<int> ChildProcess::wait() {
  if (!status_) {
    boost::system::error_code ec;
    co_await pidfd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                               boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    int raw = 0;
    if (::waitpid(pid_, &raw, 0) == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    } else {
      status_ = -1;
    }
    pidfd_.close(ec);
  }
  co_return *status_;
}

void ChildProcess::kill_group(int signal) {
  if (pid_ > 0 && !status_) ::kill(-pid_, signal);
}

void ChildProcess::close_pipes() {
  boost::system::error_code ec;
  stdin_.close(ec);
  stdout_.close(ec);
  stderr_.close(ec);
}

}  // namespace kdap::node

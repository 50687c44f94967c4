#include "bridge/node/command_shell.h"

#include <charconv>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "bridge/node/shell.h"

namespace kdap::node {

namespace {

// Runs beside whatever the caller does next, so that giving up on a command costs the caller no more time.
asio::awaitable<void> end_abandoned_shell(std::shared_ptr<SshSessionCore> core, std::string identity) {
  try {
    SshChannel channel(core);
    co_await channel.open_exec("exec /bin/sh -c " +
                               shell_quote(std::string(kStartTimeFunction) + end_process_tree(identity)));
    channel.send_eof();
    co_await channel.wait_exit();
    spdlog::debug("ssh {}: ended the abandoned command shell {} and what it ran", core->name(), identity);
  } catch (const std::exception& e) {
    spdlog::debug("ssh {}: could not end the abandoned command shell {}: {}", core->name(), identity,
                  e.what());
  }
}

}  // namespace

CommandShell::CommandShell(std::shared_ptr<SshSessionCore> core) : core_(std::move(core)) {}

asio::awaitable<std::string> CommandShell::read_until(bool stderr_stream, std::string needle) {
  std::string data;
  char buffer[16384];
  for (;;) {
    std::size_t n = co_await channel_->read_some(stderr_stream, buffer);
    if (n == 0) {
      core_->throw_if_dead();  // a lost connection says so, not that the shell ended
      throw NodeError("SSH " + core_->name() + ": kdap's command shell on the node ended");
    }
    std::size_t search_from = data.size() > needle.size() ? data.size() - needle.size() : 0;
    data.append(buffer, n);
    auto at = data.find(needle, search_from);
    // The needle's line must be complete: a status may still be on its way after it.
    if (at != std::string::npos &&
        (needle.back() == '\n' || data.find('\n', at + needle.size()) != std::string::npos)) {
      co_return data;
    }
  }
}

asio::awaitable<void> CommandShell::start() {
  channel_ = std::make_unique<SshChannel>(core_);
  token_ = random_token();
  identity_.clear();
  co_await channel_->open_exec("exec /bin/sh -s");
  // Whatever the login shell's rc files print comes before this line and is dropped with it. The line also
  // names the shell, by pid and start time.
  std::string ready = "kdap-ready-" + token_;
  co_await channel_->write_all(std::string(kStartTimeFunction) + "kdap_start_time $$; printf '\\n%s %s\\n' " +
                               ready + " \"$$:$t\"; printf '\\n%s\\n' " + ready + " >&2\n");
  std::string out = co_await read_until(false, "\n" + ready + " ");
  co_await read_until(true, "\n" + ready);
  std::string identity = out.substr(out.rfind("\n" + ready + " ") + ready.size() + 2);
  identity = identity.substr(0, identity.find('\n'));
  if (identity.find(':') != std::string::npos && identity.back() != ':' &&
      identity.find_first_not_of("0123456789:") == std::string::npos) {
    identity_ = identity;
  }
  spdlog::debug("ssh {}: the command shell is up", core_->name());
}

bool CommandShell::can_pass(const std::string& input) {
  return input.empty() || (input.back() == '\n' && input.find('\0') == std::string::npos);
}

asio::awaitable<CommandResult> CommandShell::run(std::string command, std::string input) {
  busy_ = true;
  // Any way out but the end of a complete answer leaves the shell in an unknown state: drop it.
  struct Reset {
    CommandShell& shell;
    bool sent = false;
    bool done = false;
    ~Reset() {
      shell.busy_ = false;
      if (!done) {
        shell.channel_.reset();
        ++shell.failures_;
        if (sent && !shell.identity_.empty()) {
          asio::co_spawn(shell.core_->strand(), end_abandoned_shell(shell.core_, shell.identity_),
                         asio::detached);
        }
      }
    }
  } reset{*this};
  if (!channel_) {
    std::string failure;
    try {
      co_await start();
    } catch (const NodeError& e) {
      failure = e.what();
    }
    if (!failure.empty()) throw ShellUnavailable(failure);
  }
  std::string marker = "kdap-end-" + token_ + "-" + std::to_string(++count_);
  // Each answer ends with a line of its own on both streams; the newline before it is the shell's, not the
  // command's, and is taken off again.
  std::string script = "( eval " + shell_quote(command) + " )";
  if (input.empty()) {
    script += " </dev/null\n";
  } else {
    // A quoted here-document passes the bytes as they are; its delimiter is a line the input cannot contain
    // by chance.
    std::string delimiter = "KDAP_IN_" + token_ + "_" + std::to_string(count_);
    while (input.find("\n" + delimiter + "\n") != std::string::npos || input.starts_with(delimiter + "\n")) {
      delimiter += "_";
    }
    script += " <<'" + delimiter + "'\n" + input + delimiter + "\n";
  }
  script += "printf '\\n%s %s\\n' " + marker + " \"$?\"; printf '\\n%s\\n' " + marker + " >&2\n";
  reset.sent = true;
  co_await channel_->write_all(script);
  CommandResult result;
  std::string out = co_await read_until(false, "\n" + marker + " ");
  std::string err = co_await read_until(true, "\n" + marker + "\n");
  auto out_end = out.rfind("\n" + marker + " ");
  auto err_end = err.rfind("\n" + marker + "\n");
  std::string status = out.substr(out_end + marker.size() + 2);
  status = status.substr(0, status.find('\n'));
  int value = -1;
  auto [ptr, ec] = std::from_chars(status.data(), status.data() + status.size(), value);
  result.exit_status = ec == std::errc() && ptr == status.data() + status.size() ? value : -1;
  out.resize(out_end);
  err.resize(err_end);
  result.out = std::move(out);
  result.err = std::move(err);
  reset.done = true;
  failures_ = 0;
  co_return result;
}

}  // namespace kdap::node

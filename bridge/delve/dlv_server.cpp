#include "bridge/delve/dlv_server.h"

#include <charconv>
#include <exception>

#include <spdlog/spdlog.h>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/shell.h"
#include "bridge/util/lines.h"
#include "bridge/util/race.h"
#include "bridge/util/timeout.h"

namespace kdap::delve {
namespace {

constexpr std::string_view kPidMarker = "kdap-dlv-pid ";
constexpr std::string_view kListening = "API server listening at: ";

}  // namespace

std::string dlv_command(const targets::LaunchPlan& plan, const DlvOptions& options) {
  std::vector<std::string> argv;
  const std::vector<std::string> server = {"--headless", "--listen=127.0.0.1:0", "--accept-multiclient",
                                           "--api-version=2"};
  if (plan.attach_pid) {
    argv = {options.dlv_path, "attach", std::to_string(*plan.attach_pid)};
    argv.insert(argv.end(), server.begin(), server.end());
    argv.insert(argv.end(), options.extra_flags.begin(), options.extra_flags.end());
  } else {
    argv = {"env"};
    for (const auto& [k, v] : plan.env) argv.push_back(k + "=" + v);
    argv.insert(argv.end(), {options.dlv_path, "exec", plan.program});
    argv.insert(argv.end(), server.begin(), server.end());
    if (plan.cwd) argv.push_back("--wd=" + *plan.cwd);
    argv.insert(argv.end(), options.extra_flags.begin(), options.extra_flags.end());
    argv.push_back("--");
    argv.insert(argv.end(), plan.args.begin(), plan.args.end());
  }
  // `exec` keeps the pid that the first line reports: it is dlv's own.
  return "echo " + std::string(kPidMarker) + "$$; exec " + node::shell_join(argv);
}

DlvServer::DlvServer(node::Node& node, std::unique_ptr<node::RemoteProcess> process)
    : node_(node), process_(std::move(process)) {}

DlvServer::~DlvServer() = default;

void DlvServer::remember(std::string_view text) {
  for (std::string_view line : split_lines(text)) {
    if (!line.empty()) tail_.emplace_back(line);
    if (tail_.size() > 20) tail_.pop_front();
  }
}

std::string DlvServer::last_lines() const {
  std::string out;
  for (const auto& line : tail_) out += line + "\n";
  return out;
}

asio::awaitable<std::unique_ptr<DlvServer>> DlvServer::start(node::Node& node, targets::LaunchPlan plan,
                                                             DlvOptions options, node::Duration timeout) {
  auto process = co_await node.start(dlv_command(plan, options));
  std::unique_ptr<DlvServer> server(new DlvServer(node, std::move(process)));
  auto& self = *server;
  auto read_until_listening = [&self]() -> asio::awaitable<void> {
    // stderr is kept alongside so that dlv's complaints can be quoted when it fails to start.
    auto keep_stderr = [&self]() -> asio::awaitable<void> {
      char buffer[4096];
      for (;;) {
        std::size_t n = co_await self.process_->read_some(true, buffer);
        if (n == 0) break;
        self.remember({buffer, n});
      }
      asio::steady_timer forever(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
      co_await forever.async_wait(asio::use_awaitable);
    };
    co_await race(self.wait_listening(), keep_stderr());
  };
  std::string failure;
  std::exception_ptr interrupted;
  try {
    co_await with_timeout(read_until_listening(), timeout, "starting dlv");
  } catch (const TimeoutError& e) {
    failure = std::string(e.what()) + ". Its last words:\n" + server->last_lines();
  } catch (const DlvError& e) {
    failure = e.what();
  } catch (...) {
    // The launch was cancelled (the editor ended the session, kdap got a signal) or the connection failed.
    // The caller never gets this server to stop, so the dlv already running on the node is stopped here.
    interrupted = std::current_exception();
  }
  if (!failure.empty() || interrupted) {
    co_await asio::this_coro::reset_cancellation_state();
    co_await server->stop(std::chrono::seconds(2));
    if (interrupted) std::rethrow_exception(interrupted);
    throw DlvError(failure);
  }
  spdlog::info("dlv (pid {}) listens on 127.0.0.1:{} on the node", server->pid_, server->port_);
  if (!plan.attach_pid) co_await server->note_launched(plan.program);
  co_return server;
}

asio::awaitable<void> DlvServer::note_launched(std::string program) {
  if (pid_ <= 0) co_return;
  // dlv may print its listening line before it has launched the program, and it has other children (Go's
  // telemetry process): the note waits, up to 2 s, for a child that runs `program`. Should none ever match (a
  // path dlv resolves differently), every child is noted, as the best kdap knows.
  std::string script =
      std::string(node::kStartTimeFunction) + "p=" + node::shell_quote(program) +
      "; i=0; while :; do out=; all=; " + "for f in /proc/" + std::to_string(pid_) +
      "/task/*/children; do c=; { read -r c < \"$f\"; } 2>/dev/null; for k in $c; do kdap_start_time $k; "
      "[ -n \"$t\" ] || continue; all=\"$all$k:$t\n\"; [ /proc/$k/exe -ef \"$p\" ] && out=\"$out$k:$t\n\"; "
      "done; done; "
      "if [ -n \"$out\" ]; then printf %s \"$out\"; break; fi; "
      "if [ $i -ge 40 ]; then printf %s \"$all\"; break; fi; i=$((i+1)); sleep 0.05; done";
  try {
    auto r = co_await node_.run(std::move(script), std::chrono::seconds(15));
    for (std::string_view line : split_lines(r.out)) {
      auto colon = line.find(':');
      if (colon != std::string::npos && colon > 0 && colon + 1 < line.size() &&
          line.find_first_not_of("0123456789:") == std::string::npos) {
        launched_.emplace_back(line);
      }
    }
  } catch (const std::exception& e) {
    spdlog::warn("could not note the processes dlv (pid {}) launched: {}", pid_, e.what());
  }
}

asio::awaitable<void> DlvServer::wait_listening() {
  char buffer[8192];
  for (;;) {
    std::size_t n = co_await process_->read_some(false, buffer);
    if (n == 0) {
      exited_ = true;
      throw DlvError("dlv exited before it was ready:\n" + last_lines());
    }
    pending_stdout_.append(buffer, n);
    for (;;) {
      auto nl = pending_stdout_.find('\n');
      if (nl == std::string::npos) break;
      std::string line = pending_stdout_.substr(0, nl);
      pending_stdout_.erase(0, nl + 1);
      if (line.starts_with(kPidMarker)) {
        auto digits = line.substr(kPidMarker.size());
        std::from_chars(digits.data(), digits.data() + digits.size(), pid_);
        continue;
      }
      remember(line);
      auto at = line.find(kListening);
      if (at == std::string::npos) continue;
      auto addr = line.substr(at + kListening.size());
      auto colon = addr.rfind(':');
      unsigned port = 0;
      if (colon != std::string::npos)
        std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port);
      if (port == 0 || port > 65535 || addr.substr(0, colon) != "127.0.0.1") {
        throw DlvError("dlv reported an unexpected listen address: " + addr);
      }
      port_ = static_cast<std::uint16_t>(port);
      co_return;
    }
  }
}

asio::awaitable<int> DlvServer::relay_output(OutputSink sink) {
  using namespace asio::experimental::awaitable_operators;
  if (!pending_stdout_.empty()) {
    sink(false, pending_stdout_);
    pending_stdout_.clear();
  }
  auto pump = [this, &sink](bool is_stderr) -> asio::awaitable<void> {
    char buffer[16384];
    for (;;) {
      std::size_t n = co_await process_->read_some(is_stderr, buffer);
      if (n == 0) co_return;
      std::string_view text(buffer, n);
      remember(text);
      sink(is_stderr, text);
    }
  };
  co_await (pump(false) && pump(true));
  int status = co_await process_->wait();
  exited_ = true;
  co_return status;
}

asio::awaitable<void> DlvServer::stop(node::Duration grace) {
  if (pid_ <= 0) {
    process_->close();
    co_return;
  }
  // A launched debuggee is dlv's child; both go. An attached process is not a child: SIGTERM makes dlv
  // detach from it, removing its breakpoints, and it runs on. The cmdline check guards against a reused pid.
  std::string pid = std::to_string(pid_);
  std::string launched;
  for (const auto& entry : launched_) launched += " " + entry;
  // What dlv launched goes too, also once dlv is gone (killed, crashed).
  std::string end_launched = launched.empty() ? std::string() : node::kill_same_processes(launched);
  std::string script =
      std::string(node::kStartTimeFunction) + "p=" + pid +
      "; if ! grep -qa -- --headless /proc/$p/cmdline 2>/dev/null; then " + end_launched +
      "exit 0; fi; "
      "kids=$(cat /proc/$p/task/*/children 2>/dev/null); kill -TERM $p $kids 2>/dev/null; "
      "i=0; while [ -e /proc/$p ] && [ $i -lt " +
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(grace).count() / 100) +
      " ]; do sleep 0.1; i=$((i+1)); done; "
      "kill -KILL $p $kids 2>/dev/null; " +
      end_launched + "true";
  try {
    co_await node_.run(script, grace + std::chrono::seconds(15));
  } catch (const std::exception& e) {
    spdlog::warn("stopping dlv (pid {}): {}", pid_, e.what());
  }
  process_->close();
  pid_ = 0;
}

}  // namespace kdap::delve

#include "bridge/guard/node_guard.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <sstream>

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/shell.h"
#include "bridge/util/race.h"
#include "bridge/util/timeout.h"

namespace kdap::guard {
namespace {

using node::shell_quote;
constexpr auto kQuick = std::chrono::seconds(30);

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

std::string holder_text() {
  const char* user = std::getenv("USER");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(user && *user ? user : "unknown") + "@" + host + " pid " + std::to_string(::getpid());
}

// Ends dlv (and a launched debug process, its child) if the recorded pid is still a headless dlv. SIGTERM
// first: an attached dlv then detaches and takes its breakpoints out, where SIGKILL would leave them in the
// running process to crash it at the next hit.
constexpr const char* kStopDlv = R"sh(
if [ -f "$dir/dlv.pid" ]; then
  p=$(cat "$dir/dlv.pid")
  if [ -n "$p" ] && grep -qa -- --headless "/proc/$p/cmdline" 2>/dev/null; then
    kids=$(cat /proc/$p/task/*/children 2>/dev/null)
    kill -TERM $p 2>/dev/null
    i=0; while [ -e "/proc/$p" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL $p $kids 2>/dev/null
    i=0; while [ -e "/proc/$p" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  fi
fi
)sh";

// What dlv launched, also when dlv died first: a debuggee left stopped (dlv killed during a group-stop) is no
// longer dlv's child and would keep the component's ports.
std::string stop_launched() {
  return "if [ -f \"$dir/dlv.launched\" ]; then\n  " + std::string(node::kStartTimeFunction) + "\n  " +
         node::kill_same_processes("$(cat \"$dir/dlv.launched\")") + "\nfi\n";
}

std::string restore_script(const std::string& dir, const std::string& target, const std::string& undo) {
  return "#!/bin/sh\n# kdap: puts " + target + " back as it was. Written " + now_utc() +
         " by kdap; safe to run by hand.\nset -u\ndir=" + shell_quote(dir) + "\n" + kStopDlv +
         stop_launched() + undo + "\nrm -rf -- \"$dir\"\necho \"kdap: restored " + target + "\"\n";
}

std::string guard_script(const std::string& dir, std::chrono::seconds keepalive) {
  return "#!/bin/bash\n# kdap node guard: restores the node when kdap's connection goes away without a clean "
         "end.\n"
         "dir=" +
         shell_quote(dir) + "\n" +
         "echo $$ > \"$dir/guard.pid\"\n"
         "echo kdap-guard-armed\n"
         "while IFS= read -r -t " +
         std::to_string(keepalive.count()) +
         " line; do\n"
         "  if [ \"$line\" = disarm ]; then rm -f \"$dir/guard.pid\"; echo kdap-guard-disarmed; exit 0; fi\n"
         "done\n"
         "echo \"$(date -u +%FT%TZ) connection to kdap lost: restoring\" >> \"$dir/../guard.log\"\n"
         "exec /bin/sh \"$dir/restore.sh\" >> \"$dir/../guard.log\" 2>&1\n";
}

}  // namespace

std::string NodeGuard::key_for(const std::string& target) {
  std::string key;
  for (char c : target)
    key += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return key;
}

NodeGuard::NodeGuard(node::Node& node, std::string state_dir, std::string target)
    : node_(node),
      state_dir_(std::move(state_dir)),
      target_(std::move(target)),
      key_(key_for(target_)),
      dir_(state_dir_ + "/sessions/" + key_) {}

NodeGuard::~NodeGuard() = default;

asio::awaitable<void> NodeGuard::lock() {
  auto sessions = shell_quote(state_dir_ + "/sessions");
  auto dir = shell_quote(dir_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto r = co_await node_.run("mkdir -p -m 700 " + sessions + " && mkdir -m 700 " + dir + " 2>/dev/null",
                                kQuick);
    if (r.ok()) {
      locked_ = true;
      co_return;
    }
    auto sessions_now = co_await list_sessions(node_, state_dir_);
    for (const auto& s : sessions_now) {
      if (s.key != key_) continue;
      if (s.guard_alive) {
        throw GuardError(
            target_ + " on " + node_.describe() + " is already being debugged by " +
            (s.holder.empty() ? "another kdap" : s.holder) + " since " + s.since +
            ". One session per component: end that session first (its editor, or `kill` that kdap, "
            "whose guard then restores the node).");
      }
      spdlog::warn("{}: replaying a session left by {} since {}", target_, s.holder, s.since);
      co_await replay(node_, s);
    }
    if (sessions_now.empty() && attempt == 1) break;
  }
  throw GuardError("cannot create the session directory " + dir_ + " on " + node_.describe() +
                   " (kdap needs root on the node, or set stateDir to a writable place)");
}

asio::awaitable<void> NodeGuard::arm(std::string undo, std::chrono::seconds keepalive) {
  keepalive_ = keepalive;
  if (!locked_) co_await lock();
  auto q = shell_quote(dir_);
  std::string write = "cd " + q +
                      " && cat > restore.sh.tmp && mv restore.sh.tmp restore.sh && printf '%s\\n' " +
                      shell_quote(target_) + " > target && printf '%s\\n' " + shell_quote(holder_text()) +
                      " > holder && date -u +%FT%TZ > since";
  auto r = co_await node_.run(write, kQuick, restore_script(dir_, target_, undo));
  if (!r.ok()) throw GuardError("cannot write the journal in " + dir_ + ": " + r.err);
  constexpr int kNoBash = 97;
  r = co_await node_.run("command -v bash >/dev/null || exit " + std::to_string(kNoBash) + "; cat > " +
                             shell_quote(dir_ + "/guard.sh"),
                         kQuick, guard_script(dir_, keepalive));
  if (r.exit_status == kNoBash) throw GuardError("the node has no bash, which kdap's guard needs");
  if (!r.ok()) throw GuardError("cannot write the guard in " + dir_ + ": " + r.err);
  // setsid: the guard must outlive the SSH session (and kdap's process group) that starts it.
  guard_ = co_await node_.start("exec setsid -w bash " + shell_quote(dir_ + "/guard.sh"), true);
  std::string seen;
  char buffer[256];
  auto wait_armed = [&]() -> asio::awaitable<void> {
    while (seen.find("kdap-guard-armed") == std::string::npos) {
      std::size_t n = co_await guard_->read_some(false, buffer);
      if (n == 0) throw GuardError("the guard on " + node_.describe() + " did not start");
      seen.append(buffer, n);
    }
  };
  // (A named lambda: GCC 12 may end a temporary's life at the first suspension of a co_await expression.)
  bool started = co_await finishes_within(wait_armed(), kQuick);
  if (!started) throw GuardError("the guard on " + node_.describe() + " did not start within 30 s");
  armed_ = true;
}

asio::awaitable<void> NodeGuard::record_dlv(int pid, std::vector<std::string> launched) {
  std::string command = "echo " + std::to_string(pid) + " > " + shell_quote(dir_ + "/dlv.pid");
  if (!launched.empty()) {
    std::string entries;
    for (const auto& entry : launched) entries += (entries.empty() ? "" : " ") + entry;
    command += " && echo " + shell_quote(entries) + " > " + shell_quote(dir_ + "/dlv.launched");
  }
  co_await node_.run(command, kQuick);
}

asio::awaitable<void> NodeGuard::heartbeat() {
  auto keep_alive = shared_from_this();
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto period = std::max<std::chrono::seconds>(std::chrono::seconds(1), keepalive_ / 3);
  while (armed_) {
    timer.expires_after(period);
    co_await timer.async_wait(asio::use_awaitable);
    if (!armed_ || !guard_) break;
    co_await guard_->write("ping\n");
  }
}

asio::awaitable<void> NodeGuard::disarm() {
  if (armed_ && guard_) {
    armed_ = false;
    try {
      co_await guard_->write("disarm\n");
      co_await with_timeout(guard_->wait(), std::chrono::seconds(10), "the guard's exit");
    } catch (const std::exception& e) {
      spdlog::warn("disarming the guard: {}", e.what());
    }
    guard_->close();
  }
  if (locked_) {
    co_await node_.run("rm -rf -- " + shell_quote(dir_), kQuick);
    locked_ = false;
  }
}

asio::awaitable<std::vector<SessionInfo>> list_sessions(node::Node& node, std::string state_dir) {
  // One line per session: key, guard pid, guard alive, dlv pid, dlv alive, since, target, holder
  // (tab-separated).
  std::string script =
      "cd " + shell_quote(state_dir + "/sessions") +
      " 2>/dev/null || exit 0\n"
      "for d in */; do d=${d%/}; [ -d \"$d\" ] || continue\n"
      "  g=$(cat \"$d/guard.pid\" 2>/dev/null); ga=0\n"
      "  [ -n \"$g\" ] && grep -qa -- \"$PWD/$d/guard.sh\" /proc/$g/cmdline 2>/dev/null && ga=1\n"
      "  p=$(cat \"$d/dlv.pid\" 2>/dev/null); pa=0\n"
      "  [ -n \"$p\" ] && grep -qa -- --headless /proc/$p/cmdline 2>/dev/null && pa=1\n"
      "  printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' \"$d\" \"${g:-0}\" $ga \"${p:-0}\" $pa "
      "\"$(cat \"$d/since\" 2>/dev/null)\" \"$(cat \"$d/target\" 2>/dev/null)\" "
      "\"$(cat \"$d/holder\" 2>/dev/null)\"\n"
      "done\n";
  auto r = co_await node.run(script, kQuick);
  std::vector<SessionInfo> out;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::size_t pos = 0;
    for (;;) {
      auto tab = line.find('\t', pos);
      f.push_back(line.substr(pos, tab == std::string::npos ? std::string::npos : tab - pos));
      if (tab == std::string::npos) break;
      pos = tab + 1;
    }
    if (f.size() != 8) continue;
    SessionInfo s;
    s.key = f[0];
    s.dir = state_dir + "/sessions/" + f[0];
    s.guard_pid = std::atoi(f[1].c_str());
    s.guard_alive = f[2] == "1";
    s.dlv_pid = std::atoi(f[3].c_str());
    s.dlv_alive = f[4] == "1";
    s.since = f[5];
    s.target = f[6];
    s.holder = f[7];
    out.push_back(std::move(s));
  }
  co_return out;
}

asio::awaitable<std::string> replay(node::Node& node, SessionInfo session) {
  auto r = co_await node.run("/bin/sh " + shell_quote(session.dir + "/restore.sh") + " 2>&1",
                             std::chrono::minutes(2));
  if (!r.ok()) {
    throw GuardError("restoring " + (session.target.empty() ? session.key : session.target) + " from " +
                     session.dir + "/restore.sh failed: " + r.out);
  }
  co_return r.out;
}

}  // namespace kdap::guard

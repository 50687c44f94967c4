#include "bridge/targets/attach_target.h"

#include <sstream>

#include "bridge/node/process_table.h"
#include "bridge/node/shell.h"

namespace kdap::targets {
namespace {

constexpr auto kQuick = std::chrono::seconds(15);

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string command_line(const std::vector<std::string>& argv, std::size_t limit = 120) {
  std::string line;
  for (const auto& arg : argv) line += (line.empty() ? "" : " ") + arg;
  if (line.size() > limit) line = line.substr(0, limit) + "…";
  return line;
}

}  // namespace

asio::awaitable<int> AttachTarget::find_by_name(const std::string& name) {
  auto processes = co_await node::list_processes(node_);
  std::vector<const node::ProcessInfo*> matches;
  for (const auto& p : processes) {
    if (p.argv.empty() || basename_of(p.argv.front()) != name) continue;
    matches.push_back(&p);
  }
  if (matches.empty()) {
    throw TargetError("no process named " + name + " runs on " + node_.describe() +
                      " (kdap compares the base name of argv[0]); `kdap ls` lists what runs there, or use "
                      "pid/<pid>");
  }
  if (matches.size() > 1) {
    std::string list;
    for (const auto* p : matches) list += "\n  pid/" + std::to_string(p->pid) + ": " + command_line(p->argv);
    throw TargetError(std::to_string(matches.size()) + " processes named " + name + " run on " +
                      node_.describe() + "; say which with pid/<pid>:" + list);
  }
  co_return matches.front()->pid;
}

asio::awaitable<LaunchPlan> AttachTarget::plan() {
  int pid = 0;
  if (config_.target.kind == config::TargetKind::kPid) {
    pid = std::stoi(config_.target.name);
  } else {
    pid = co_await find_by_name(config_.target.name);
  }
  std::string proc = "/proc/" + std::to_string(pid);
  // One command: the executable, whether someone already traces it, and its arguments for the summary.
  auto r = co_await node_.run("[ -d " + proc + " ] || exit 3; readlink " + proc +
                                  "/exe; sed -n 's/^TracerPid:\\t*//p' " + proc + "/status; tr '\\0' ' ' < " +
                                  proc + "/cmdline",
                              kQuick);
  if (r.exit_status == 3) {
    throw TargetError("no process with pid " + std::to_string(pid) + " runs on " + node_.describe() +
                      "; `kdap ls` lists what runs there");
  }
  std::istringstream lines(r.out);
  std::string exe, tracer, cmdline;
  std::getline(lines, exe);
  std::getline(lines, tracer);
  std::getline(lines, cmdline);
  if (!r.ok() || exe.empty()) {
    throw TargetError("cannot read " + proc + " on " + node_.describe() + ": " + r.err +
                      " (attaching needs root on the node)");
  }
  if (!tracer.empty() && tracer != "0") {
    auto who = co_await node_.run("tr '\\0' ' ' < /proc/" + tracer + "/cmdline", kQuick);
    throw TargetError("pid " + std::to_string(pid) + " is already being traced by pid " + tracer + " (" +
                      (who.out.empty() ? "unknown" : who.out) +
                      "); a process can have one debugger at a time — end that one first");
  }
  LaunchPlan plan;
  plan.attach_pid = pid;
  plan.program = exe;
  if (exe.ends_with(" (deleted)")) {
    plan.warnings.push_back("the executable of pid " + std::to_string(pid) +
                            " was replaced or removed since it started (" + exe +
                            "); source lines may not match what you have");
  }
  plan.summary = "attaching to pid " + std::to_string(pid) + " (" + cmdline.substr(0, 200) +
                 "); it keeps running after the session unless you terminate it";
  co_return plan;
}

}  // namespace kdap::targets

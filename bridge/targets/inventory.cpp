#include "bridge/targets/inventory.h"

#include <charconv>
#include <map>
#include <set>
#include <sstream>

#include "bridge/inspect/program_probe.h"
#include "bridge/node/process_table.h"
#include "bridge/node/shell.h"
#include "bridge/targets/kubectl.h"
#include "bridge/targets/pod_spec.h"
#include "bridge/targets/static_pod.h"

namespace kdap::targets {
namespace {

constexpr auto kListTimeout = std::chrono::seconds(60);
constexpr char kMark = '\001';

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

int to_int(const std::string& text) {
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// One round trip for what the node itself knows: manifests with their text, kube*/etcd* units with their
// main pid and state, and every process's executable.
std::string survey_script(const std::string& manifest_dir) {
  return "md=" + node::shell_quote(manifest_dir) +
         "\n"
         "for f in \"$md\"/*.yaml \"$md\"/*.yml; do [ -f \"$f\" ] || continue; printf '\\001manifest %s\\n' "
         "\"$f\"; "
         "head -c 262144 -- \"$f\"; printf '\\n'; done\n"
         "if command -v systemctl >/dev/null 2>&1; then\n"
         "  systemctl list-units --type=service --all --plain --no-legend --no-pager 'kube*' 'etcd*' "
         "2>/dev/null |\n"
         "  while read -r u rest; do\n"
         "    printf '\\001unit %s %s %s\\n' \"$u\" \"$(systemctl show -p MainPID --value -- \"$u\")\" "
         "\"$(systemctl show -p ActiveState --value -- \"$u\")\"\n"
         "  done\n"
         "fi\n"
         "for p in /proc/[0-9]*; do e=$(readlink \"$p/exe\" 2>/dev/null) || continue; "
         "printf '\\001proc %s %s\\n' \"${p#/proc/}\" \"$e\"; done\n"
         "exit 0\n";
}

struct Survey {
  std::vector<std::pair<std::string, std::string>> manifests;  // path, text
  struct Unit {
    std::string name, state;
    int main_pid = 0;
  };
  std::vector<Unit> units;
  std::map<int, std::string> exe_of;
};

Survey parse_survey(const std::string& out) {
  Survey survey;
  std::string* manifest_text = nullptr;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() != kMark) {
      if (manifest_text) *manifest_text += line + "\n";
      continue;
    }
    manifest_text = nullptr;
    std::istringstream fields(line.substr(1));
    std::string kind;
    fields >> kind;
    if (kind == "manifest") {
      std::string path;
      std::getline(fields >> std::ws, path);
      survey.manifests.emplace_back(path, "");
      manifest_text = &survey.manifests.back().second;
    } else if (kind == "unit") {
      Survey::Unit unit;
      std::string pid;
      fields >> unit.name >> pid >> unit.state;
      unit.main_pid = to_int(pid);
      survey.units.push_back(unit);
    } else if (kind == "proc") {
      std::string pid, exe;
      fields >> pid;
      std::getline(fields >> std::ws, exe);
      survey.exe_of[to_int(pid)] = exe;
    }
  }
  return survey;
}

}  // namespace

asio::awaitable<Inventory> take_inventory(const config::LaunchConfig& config, node::Node& node) {
  Inventory inventory;
  inventory.node = node.describe();
  auto r = co_await node.run(survey_script(config.manifest_dir), kListTimeout);
  auto survey = parse_survey(r.out);
  auto processes = co_await node::list_processes(node);
  std::set<int> claimed;  // pids that belong to a component listed by kind, not again as a bare process

  for (const auto& [path, text] : survey.manifests) {
    InventoryEntry e;
    e.kind = "static-pod";
    e.name = basename_of(path).substr(0, basename_of(path).rfind('.'));
    e.target = "static-pod/" + e.name;
    e.source = path;
    try {
      auto spec = parse_static_pod(text, path);
      auto pids = pod_processes(spec, processes);
      e.program = spec.command.front();
      if (!pids.empty()) {
        e.pid = pids.front();
        e.program = survey.exe_of.count(pids.front()) ? survey.exe_of[pids.front()] : e.program;
        claimed.insert(pids.begin(), pids.end());
      }
      e.state = pids.empty() ? "not running" : "running";
    } catch (const std::exception& ex) {
      e.state = "unreadable manifest";
      e.binary_note = ex.what();
    }
    inventory.components.push_back(std::move(e));
  }
  for (const auto& unit : survey.units) {
    InventoryEntry e;
    e.kind = "systemd";
    e.name = unit.name;
    e.target = "systemd/" + unit.name;
    e.source = "systemd unit " + unit.name;
    e.state = unit.state;
    if (unit.main_pid > 0) {
      e.pid = unit.main_pid;
      e.program = survey.exe_of.count(unit.main_pid) ? survey.exe_of[unit.main_pid] : "";
      claimed.insert(unit.main_pid);
    }
    inventory.components.push_back(std::move(e));
  }

  Kubectl kubectl(config, node);
  std::string node_name = co_await targets::node_name(config, node);
  try {
    auto pods = co_await kubectl.get_list("", "pods", "spec.nodeName=" + node_name);
    for (const auto& pod : pods.value("items", nlohmann::json::array())) {
      for (const auto& owner : pod["metadata"].value("ownerReferences", nlohmann::json::array())) {
        if (owner.value("kind", "") != "DaemonSet") continue;
        InventoryEntry e;
        e.kind = "daemonset";
        e.ns = pod["metadata"].value("namespace", "");
        e.name = owner.value("name", "");
        e.target = "daemonset/" + e.ns + "/" + e.name;
        e.source = "pod " + pod["metadata"].value("name", "") + " of DaemonSet " + e.ns + "/" + e.name;
        e.state = pod["status"].value("phase", "");
        const auto& containers = pod["spec"].value("containers", nlohmann::json::array());
        if (!containers.empty() && !containers[0].value("command", nlohmann::json::array()).empty()) {
          std::string want = basename_of(containers[0]["command"][0].get<std::string>());
          for (const auto& p : processes) {
            if (p.argv.empty() || basename_of(p.argv.front()) != want || claimed.count(p.pid)) continue;
            e.pid = p.pid;
            e.program = survey.exe_of.count(p.pid) ? survey.exe_of[p.pid] : "";
            claimed.insert(p.pid);
            break;
          }
        }
        inventory.components.push_back(std::move(e));
      }
    }
  } catch (const TargetError&) {
    inventory.notes.push_back("DaemonSet pods are not listed: " + kubectl.availability());
  }

  // Every distinct executable is read once; Go ones carry a .go.buildinfo section.
  std::vector<std::string> exes;
  for (const auto& [pid, exe] : survey.exe_of) {
    if (exe.empty() || exe.ends_with(" (deleted)")) continue;
    if (std::find(exes.begin(), exes.end(), exe) == exes.end()) exes.push_back(exe);
  }
  std::map<std::string, inspect::ProgramReport> reports;
  try {
    auto found = co_await inspect::inspect_programs(node, exes);
    for (auto& report : found) reports[report.path] = std::move(report);
  } catch (const std::exception& e) {
    inventory.notes.push_back(std::string("binaries could not be read: ") + e.what());
  }
  std::map<std::string, int> name_count;
  for (const auto& p : processes) {
    if (!p.argv.empty()) name_count[basename_of(p.argv.front())]++;
  }
  for (const auto& p : processes) {
    auto exe = survey.exe_of.find(p.pid);
    if (exe == survey.exe_of.end() || claimed.count(p.pid) || p.argv.empty()) continue;
    auto report = reports.find(exe->second);
    if (report == reports.end() || !report->second.go) continue;
    std::string base = basename_of(exe->second);
    // dlv and kdap's own helpers are not debug targets.
    if (base == "dlv" || std::find(p.argv.begin(), p.argv.end(), "--headless") != p.argv.end()) continue;
    InventoryEntry e;
    e.kind = "process";
    e.name = basename_of(p.argv.front());
    e.target = name_count[e.name] == 1 ? "process/" + e.name : "pid/" + std::to_string(p.pid);
    e.pid = p.pid;
    e.program = exe->second;
    e.state = "running";
    e.source = "a running Go process";
    inventory.components.push_back(std::move(e));
  }

  for (auto& e : inventory.components) {
    if (e.program.empty() || e.program.front() != '/') continue;
    auto report = reports.find(e.program);
    if (report == reports.end()) continue;
    const auto& probe = report->second;
    if (!probe.go) {
      e.binary_note = probe.error.empty() ? "not a Go program" : probe.error;
      continue;
    }
    e.debug_info = probe.has_debug_info;
    e.optimizations_disabled = probe.go->optimizations_disabled();
    e.go_version = probe.go->go_version;
  }
  co_return inventory;
}

}  // namespace kdap::targets

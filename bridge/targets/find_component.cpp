#include "bridge/targets/find_component.h"

#include "bridge/node/shell.h"
#include "bridge/targets/kubectl.h"

namespace kdap::targets {
namespace {
constexpr auto kQuick = std::chrono::seconds(20);
}

asio::awaitable<FoundComponent> find_component(const config::LaunchConfig& config, node::Node& node) {
  const std::string& name = *config.component;
  std::string manifest = config.manifest_dir + "/" + name + ".yaml";
  std::string unit = name.find('.') == std::string::npos ? name + ".service" : name;
  // One round trip for the two local lookups; systemctl may be missing (then only static pods count).
  auto r = co_await node.run("if [ -f " + node::shell_quote(manifest) +
                                 " ]; then echo static-pod; exit 0; fi; "
                                 "command -v systemctl >/dev/null 2>&1 || exit 0; "
                                 "s=$(systemctl show -p LoadState --value -- " +
                                 node::shell_quote(unit) +
                                 " 2>/dev/null); [ \"$s\" = loaded ] && echo systemd; exit 0",
                             kQuick);
  std::string kind = r.out.substr(0, r.out.find('\n'));
  FoundComponent found;
  if (kind == "static-pod") {
    found.target = config::parse_target("static-pod/" + name);
    found.reason = "its static-pod manifest " + manifest;
    co_return found;
  }
  if (kind == "systemd") {
    found.target = config::parse_target("systemd/" + unit);
    found.reason = "the systemd unit " + unit;
    co_return found;
  }
  Kubectl kubectl(config, node);
  bool has_daemonset = co_await kubectl.exists("kube-system", "daemonset", name);
  if (has_daemonset) {
    found.target = config::parse_target("daemonset/kube-system/" + name);
    found.reason = "the DaemonSet kube-system/" + name;
    co_return found;
  }
  throw TargetError("kdap found no component named " + name + " on " + node.describe() + ": no manifest " +
                    manifest + ", no systemd unit " + unit + ", no DaemonSet kube-system/" + name + " (" +
                    kubectl.availability() +
                    "). `kdap ls` lists what can be debugged there; or set `target` to say the kind.");
}

}  // namespace kdap::targets

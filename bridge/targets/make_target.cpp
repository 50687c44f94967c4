#include "bridge/targets/attach_target.h"
#include "bridge/targets/daemonset_target.h"
#include "bridge/targets/exec_target.h"
#include "bridge/targets/static_pod.h"
#include "bridge/targets/systemd_target.h"

namespace kdap::targets {

std::unique_ptr<Target> make_target(const config::LaunchConfig& config, node::Node& node) {
  switch (config.target.kind) {
    case config::TargetKind::kStaticPod:
      return std::make_unique<StaticPodTarget>(config, node);
    case config::TargetKind::kSystemd:
      return std::make_unique<SystemdTarget>(config, node);
    case config::TargetKind::kDaemonSet:
      return std::make_unique<DaemonSetTarget>(config, node);
    case config::TargetKind::kExec:
      return std::make_unique<ExecTarget>(config, node);
    case config::TargetKind::kPid:
    case config::TargetKind::kProcess:
      return std::make_unique<AttachTarget>(config, node);
  }
  throw TargetError("internal: no target for '" + config.target.text + "'");
}

}  // namespace kdap::targets

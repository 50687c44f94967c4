#pragma once
// The parts of a Pod's first container that decide what runs: command, args, env and working directory,
// with Kubernetes' $(VAR) expansion. Shared by static pods and DaemonSets.

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kdap::targets {

struct ContainerSpec {
  std::string pod_name;
  std::string container_name;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // literal values only
  std::vector<std::string> env_from_refs;  // names whose value comes from valueFrom (not resolvable)
  std::optional<std::string> working_dir;
};

// Throws TargetError naming the line and what is wrong. `source` names the file for messages.
ContainerSpec parse_static_pod(const std::string& yaml_text, const std::string& source);

// Kubernetes' $(VAR) expansion of command and args: $(NAME) with NAME in env is replaced, $$ escapes '$',
// anything else stays as written.
std::string expand_k8s_vars(const std::string& text,
                            const std::vector<std::pair<std::string, std::string>>& env);

}  // namespace kdap::targets

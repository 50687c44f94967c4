#pragma once
// The parts of a Pod's container that decide what runs: command, args, env and working directory,
// with Kubernetes' $(VAR) expansion. Shared by static pods and DaemonSets.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace kdap::targets {

// One entry of a container's `env`, in the order written: Kubernetes expands $(VAR) in a value with the
// entries before it, so the order matters.
struct EnvEntry {
  std::string name;
  std::string value;        // `value`; "" when absent
  std::string source;       // "" for a literal; otherwise the valueFrom kind: fieldRef, resourceFieldRef,
                            // configMapKeyRef, secretKeyRef, ...
  std::string source_name;  // fieldRef: fieldPath; resourceFieldRef: resource; *KeyRef: the object's name
  std::string source_key;   // *KeyRef: the key
  bool optional = false;    // *KeyRef: optional
};

// One entry of a container's `envFrom`.
struct EnvFromEntry {
  std::string source;  // configMapRef or secretRef
  std::string name;
  std::string prefix;
  bool optional = false;
};

struct VolumeMount {
  std::string name;
  std::string mount_path;
  std::string sub_path;
  std::string sub_path_expr;
  bool read_only = false;
};

struct ContainerSpec {
  std::string pod_name;
  std::string container_name;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // literal values only
  std::vector<std::string> env_from_refs;  // names whose value comes from valueFrom (not resolvable)
  std::optional<std::string> working_dir;
  std::vector<EnvEntry> env_entries;  // every env entry, literal or not, in order
  std::vector<EnvFromEntry> env_from;
  std::vector<VolumeMount> volume_mounts;
};

// Throws TargetError naming the line and what is wrong. `source` names the file for messages.
ContainerSpec parse_static_pod(const std::string& yaml_text, const std::string& source);

// The container called `name` (the first one when nullopt) of a pod spec as the API server returns it in
// JSON, e.g. a DaemonSet's spec.template.spec. Unlike parse_static_pod, command and args come back as
// written: the caller expands them once it has resolved the valueFrom entries, which only it can do. An
// empty command is no error here either. `source` names the object in messages ("daemonset ns/name") and
// `field` the spec's place in it ("spec.template.spec"). Throws TargetError.
ContainerSpec parse_pod_container(const nlohmann::json& pod_spec, const std::optional<std::string>& name,
                                  const std::string& source, const std::string& field);

// Kubernetes' $(VAR) expansion of command and args: $(NAME) with NAME in env is replaced, $$ escapes '$',
// anything else stays as written.
std::string expand_k8s_vars(const std::string& text,
                            const std::vector<std::pair<std::string, std::string>>& env);

}  // namespace kdap::targets

#include "bridge/targets/pod_spec.h"

#include <yaml-cpp/yaml.h>

#include "bridge/targets/target.h"

namespace kdap::targets {
namespace {

std::string at_line(const YAML::Node& n) {
  auto m = n.Mark();
  return m.line >= 0 ? " (line " + std::to_string(m.line + 1) + ")" : "";
}

std::vector<std::string> strings(const YAML::Node& n, const std::string& what, const std::string& source) {
  std::vector<std::string> out;
  if (!n) return out;
  if (!n.IsSequence()) throw TargetError(source + ": " + what + " must be a list of strings" + at_line(n));
  for (const auto& item : n) {
    if (!item.IsScalar())
      throw TargetError(source + ": every entry of " + what + " must be a string" + at_line(item));
    out.push_back(item.as<std::string>());
  }
  return out;
}

}  // namespace

ContainerSpec parse_static_pod(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw TargetError(source + " is not valid YAML: " + e.msg + " at line " +
                      std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
                      ". Fix the manifest (the kubelet cannot run "
                      "it either).");
  }
  if (!root.IsMap() || !root["kind"] || root["kind"].as<std::string>("") != "Pod") {
    throw TargetError(source + " is not a Pod manifest (kind: Pod expected)");
  }
  ContainerSpec spec;
  spec.pod_name =
      root["metadata"] && root["metadata"]["name"] ? root["metadata"]["name"].as<std::string>("") : "";
  const YAML::Node containers = root["spec"] ? root["spec"]["containers"] : YAML::Node();
  if (!containers || !containers.IsSequence() || containers.size() == 0) {
    throw TargetError(source + " has no spec.containers; kdap debugs the first container of the pod");
  }
  const YAML::Node c = containers[0];
  spec.container_name = c["name"] ? c["name"].as<std::string>("") : "";
  spec.command = strings(c["command"], "spec.containers[0].command", source);
  spec.args = strings(c["args"], "spec.containers[0].args", source);
  if (spec.command.empty()) {
    throw TargetError(source +
                      ": spec.containers[0] has no command, so kdap cannot tell which binary runs (the "
                      "image's entrypoint is not visible on the node). Set `program` and `args` in the "
                      "launch configuration.");
  }
  if (const YAML::Node env = c["env"]) {
    if (!env.IsSequence())
      throw TargetError(source + ": spec.containers[0].env must be a list" + at_line(env));
    for (const auto& e : env) {
      auto name = e["name"] ? e["name"].as<std::string>("") : "";
      if (name.empty()) continue;
      if (e["value"]) {
        spec.env.emplace_back(name, e["value"].as<std::string>(""));
      } else if (e["valueFrom"]) {
        spec.env_from_refs.push_back(name);
      } else {
        spec.env.emplace_back(name, "");
      }
    }
  }
  if (c["workingDir"]) spec.working_dir = c["workingDir"].as<std::string>("");
  for (auto& s : spec.command) s = expand_k8s_vars(s, spec.env);
  for (auto& s : spec.args) s = expand_k8s_vars(s, spec.env);
  return spec;
}

std::string expand_k8s_vars(const std::string& text,
                            const std::vector<std::pair<std::string, std::string>>& env) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] == '(') {
      auto close = text.find(')', i + 2);
      if (close != std::string::npos) {
        std::string name = text.substr(i + 2, close - i - 2);
        for (auto it = env.rbegin(); it != env.rend(); ++it) {
          if (it->first == name) {
            out += it->second;
            i = close;
            goto next;
          }
        }
      }
    }
    out += text[i];
  next:;
  }
  return out;
}

}  // namespace kdap::targets

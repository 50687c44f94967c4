#include "bridge/targets/pod_spec.h"

#include <algorithm>
#include <cstdint>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

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

std::string str_field(const YAML::Node& map, const char* key) {
  return map.IsMap() && map[key] ? map[key].as<std::string>("") : "";
}

bool bool_field(const YAML::Node& map, const char* key) {
  return map.IsMap() && map[key] ? map[key].as<bool>(false) : false;
}

void read_value_from(const YAML::Node& from, EnvEntry& entry, const std::string& where,
                     const std::string& source) {
  if (!from.IsMap() || from.size() == 0)
    throw TargetError(source + ": " + where + ".valueFrom must name a source" + at_line(from));
  const auto first = from.begin();
  entry.source = first->first.as<std::string>("");
  const YAML::Node ref = first->second;
  if (entry.source == "fieldRef") {
    entry.source_name = str_field(ref, "fieldPath");
  } else if (entry.source == "resourceFieldRef") {
    entry.source_name = str_field(ref, "resource");
  } else {
    entry.source_name = str_field(ref, "name");
    entry.source_key = str_field(ref, "key");
    entry.optional = bool_field(ref, "optional");
  }
}

// `field` is the container's place in its object, e.g. "spec.containers[0]". Nothing is expanded here.
ContainerSpec read_container(const YAML::Node& c, const std::string& field, const std::string& source) {
  ContainerSpec spec;
  spec.container_name = c["name"] ? c["name"].as<std::string>("") : "";
  spec.command = strings(c["command"], field + ".command", source);
  spec.args = strings(c["args"], field + ".args", source);
  if (const YAML::Node env = c["env"]) {
    if (!env.IsSequence()) throw TargetError(source + ": " + field + ".env must be a list" + at_line(env));
    for (const auto& e : env) {
      if (!e.IsMap())
        throw TargetError(source + ": every entry of " + field + ".env must be a map" + at_line(e));
      auto name = e["name"] ? e["name"].as<std::string>("") : "";
      if (name.empty()) continue;
      EnvEntry entry;
      entry.name = name;
      if (e["value"]) {
        entry.value = e["value"].as<std::string>("");
        spec.env.emplace_back(name, entry.value);
      } else if (e["valueFrom"]) {
        read_value_from(e["valueFrom"], entry, field + ".env[" + name + "]", source);
        spec.env_from_refs.push_back(name);
      } else {
        spec.env.emplace_back(name, "");
      }
      spec.env_entries.push_back(std::move(entry));
    }
  }
  if (const YAML::Node env_from = c["envFrom"]) {
    if (!env_from.IsSequence())
      throw TargetError(source + ": " + field + ".envFrom must be a list" + at_line(env_from));
    for (const auto& e : env_from) {
      EnvFromEntry entry;
      entry.prefix = str_field(e, "prefix");
      for (const char* kind : {"configMapRef", "secretRef"}) {
        if (e.IsMap() && e[kind]) {
          entry.source = kind;
          entry.name = str_field(e[kind], "name");
          entry.optional = bool_field(e[kind], "optional");
        }
      }
      spec.env_from.push_back(std::move(entry));
    }
  }
  if (const YAML::Node mounts = c["volumeMounts"]) {
    if (!mounts.IsSequence())
      throw TargetError(source + ": " + field + ".volumeMounts must be a list" + at_line(mounts));
    for (const auto& m : mounts) {
      VolumeMount mount;
      mount.name = str_field(m, "name");
      mount.mount_path = str_field(m, "mountPath");
      mount.sub_path = str_field(m, "subPath");
      mount.sub_path_expr = str_field(m, "subPathExpr");
      mount.read_only = bool_field(m, "readOnly");
      spec.volume_mounts.push_back(std::move(mount));
    }
  }
  if (c["workingDir"]) spec.working_dir = c["workingDir"].as<std::string>("");
  return spec;
}

// Nodes built in memory carry no line marks, so messages about JSON input name fields, not lines.
YAML::Node to_yaml(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      YAML::Node n(YAML::NodeType::Map);
      for (const auto& [key, value] : j.items()) n[key] = to_yaml(value);
      return n;
    }
    case nlohmann::json::value_t::array: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const auto& value : j) n.push_back(to_yaml(value));
      return n;
    }
    case nlohmann::json::value_t::string:
      return YAML::Node(j.get<std::string>());
    case nlohmann::json::value_t::boolean:
      return YAML::Node(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return YAML::Node(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return YAML::Node(j.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float:
      return YAML::Node(j.get<double>());
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

std::string container_names(const nlohmann::json& containers) {
  std::string out;
  if (!containers.is_array()) return out;
  for (const auto& c : containers) {
    if (!out.empty()) out += ", ";
    out += c.is_object() ? c.value("name", "") : "";
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
  const YAML::Node containers = root["spec"] ? root["spec"]["containers"] : YAML::Node();
  if (!containers || !containers.IsSequence() || containers.size() == 0) {
    throw TargetError(source + " has no spec.containers; kdap debugs the first container of the pod");
  }
  ContainerSpec spec = read_container(containers[0], "spec.containers[0]", source);
  spec.pod_name =
      root["metadata"] && root["metadata"]["name"] ? root["metadata"]["name"].as<std::string>("") : "";
  if (spec.command.empty()) {
    throw TargetError(source +
                      ": spec.containers[0] has no command, so kdap cannot tell which binary runs (the "
                      "image's entrypoint is not visible on the node). Set `program` and `args` in the "
                      "launch configuration.");
  }
  for (auto& s : spec.command) s = expand_k8s_vars(s, spec.env);
  for (auto& s : spec.args) s = expand_k8s_vars(s, spec.env);
  return spec;
}

ContainerSpec parse_pod_container(const nlohmann::json& pod_spec, const std::optional<std::string>& name,
                                  const std::string& source, const std::string& field) {
  const auto containers = pod_spec.is_object() ? pod_spec.value("containers", nlohmann::json()) : nullptr;
  if (!containers.is_array() || containers.empty())
    throw TargetError(source + " has no " + field + ".containers");
  std::size_t index = 0;
  if (name) {
    while (index < containers.size() &&
           !(containers[index].is_object() && containers[index].value("name", "") == *name)) {
      ++index;
    }
    if (index == containers.size()) {
      const auto init = pod_spec.value("initContainers", nlohmann::json::array());
      const bool is_init =
          init.is_array() && std::any_of(init.begin(), init.end(), [&](const nlohmann::json& c) {
            return c.is_object() && c.value("name", "") == *name;
          });
      throw TargetError(source +
                        (is_init ? ": '" + *name +
                                       "' is an init container; kdap debugs the "
                                       "long-running containers: "
                                 : " has no container '" + *name + "'; its containers: ") +
                        container_names(containers) + ". Name one of those.");
    }
  }
  const std::string where = field + ".containers[" + std::to_string(index) + "]";
  if (!containers[index].is_object()) throw TargetError(source + ": " + where + " must be a map");
  return read_container(to_yaml(containers[index]), where, source);
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

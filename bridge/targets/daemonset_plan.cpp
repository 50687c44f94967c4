#include "bridge/targets/daemonset_plan.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <set>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "bridge/targets/pod_spec.h"
#include "bridge/targets/target.h"
#include "bridge/util/base64.h"

namespace kdap::targets {
namespace {

using json = nlohmann::json;

constexpr std::string_view kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount/";
constexpr const char* kDefaultContainerAnnotation = "kubectl.kubernetes.io/default-container";
constexpr const char* kRequired = "requiredDuringSchedulingIgnoredDuringExecution";
constexpr int kDefaultFileMode = 0644;

// A JSON null counts as absent: the API server omits empty optional fields, and a null written by hand
// means the same to it.
const json* at_path(const json& j, std::initializer_list<std::string_view> path) {
  const json* at = &j;
  for (auto key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end() || it->is_null()) return nullptr;
    at = &*it;
  }
  return at;
}

std::string string_at(const json& j, std::initializer_list<std::string_view> path) {
  const json* v = at_path(j, path);
  return v && v->is_string() ? v->get<std::string>() : "";
}

bool bool_at(const json& j, std::initializer_list<std::string_view> path) {
  const json* v = at_path(j, path);
  return v && v->is_boolean() && v->get<bool>();
}

std::string pointer_escape(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// The object's identity for messages, after checking it is a DaemonSet with a pod template.
struct DaemonSetRef {
  std::string ns;
  std::string name;
  std::string text;  // "daemonset ns/name"
  const json* pod_spec;
};

DaemonSetRef identify(const json& ds) {
  if (!ds.is_object()) {
    throw TargetError(
        "the DaemonSet is not a JSON object; pass what `kubectl get daemonset NAME -n NAMESPACE "
        "-o json` prints");
  }
  const std::string kind = ds.value("kind", "");
  if (!kind.empty() && kind != "DaemonSet") {
    throw TargetError("expected a DaemonSet, got a " + kind + " (" + string_at(ds, {"metadata", "name"}) +
                      ")");
  }
  DaemonSetRef ref;
  ref.name = string_at(ds, {"metadata", "name"});
  ref.ns = string_at(ds, {"metadata", "namespace"});
  if (ref.ns.empty()) ref.ns = "default";
  ref.text = "daemonset " + ref.ns + "/" + ref.name;
  ref.pod_spec = at_path(ds, {"spec", "template", "spec"});
  if (!ref.pod_spec || !ref.pod_spec->is_object()) throw TargetError(ref.text + " has no spec.template.spec");
  return ref;
}

void require_node_name(const std::string& node_name) {
  if (node_name.empty() || node_name.find_first_of(" \t\n/") != std::string::npos) {
    throw TargetError("'" + node_name +
                      "' is not a node name; kdap needs this node's Kubernetes name (the "
                      "NAME column of `kubectl get nodes`)");
  }
}

// `asked`, else the container kubectl itself defaults to, else the first one (nullopt).
std::optional<std::string> container_to_debug(const json& ds, const json& pod_spec,
                                              const std::optional<std::string>& asked) {
  if (asked) return asked;
  const std::string preferred =
      string_at(ds, {"spec", "template", "metadata", "annotations", kDefaultContainerAnnotation});
  const json* containers = at_path(pod_spec, {"containers"});
  if (!preferred.empty() && containers && containers->is_array()) {
    for (const auto& c : *containers) {
      if (c.is_object() && c.value("name", "") == preferred) return preferred;
    }
  }
  return std::nullopt;
}

const json* volume_named(const json& pod_spec, const std::string& name) {
  const json* volumes = at_path(pod_spec, {"volumes"});
  if (!volumes || !volumes->is_array()) return nullptr;
  for (const auto& v : *volumes) {
    if (v.is_object() && v.value("name", "") == name) return &v;
  }
  return nullptr;
}

// The volume's source kind: configMap, hostPath, secret, projected, emptyDir, ...
std::string volume_kind(const json& volume) {
  for (const auto& [key, value] : volume.items()) {
    if (key != "name" && !value.is_null()) return key;
  }
  return "";
}

std::string trim_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

void add_unique(std::vector<std::string>& list, const std::string& item) {
  if (!item.empty() && std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

void set_env(EnvList& env, const std::string& name, std::string value) {
  for (auto& [key, v] : env) {
    if (key == name) {
      v = std::move(value);
      return;
    }
  }
  env.emplace_back(name, std::move(value));
}

std::string file_mode(const json* mode, const std::string& where, const std::string& ds_text) {
  int value = kDefaultFileMode;
  if (mode) {
    if (!mode->is_number_integer() || mode->get<int>() < 0 || mode->get<int>() > 0777) {
      throw TargetError(ds_text + ": " + where +
                        " is not a file mode (0 to 0777, written in decimal in JSON)");
    }
    value = mode->get<int>();
  }
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(value));
  return buffer;
}

std::string decode_base64_or_throw(const std::string& in, const std::string& what) {
  auto out = decode_base64(in);
  if (!out) throw TargetError(what + " is not base64");
  return *out;
}

// A path inside a volume, as `items[].path` or a key gives it. kdap writes files at these paths as root, so
// anything that could leave files_dir is refused, as the API server would.
void check_relative_path(const std::string& path, const std::string& what, const std::string& ds_text) {
  bool bad = path.empty() || path.front() == '/';
  std::size_t start = 0;
  while (!bad && start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    bad = path.compare(start, end - start, "..") == 0 && end - start == 2;
    start = end + 1;
  }
  if (bad) throw TargetError(ds_text + ": " + what + " '" + path + "' must be a relative path without '..'");
}

bool is_env_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 127 && c != '='; });
}

// A kubeconfig that authenticates with the pod's service-account token (kubeadm's kube-proxy ships one). On
// the node the token does not exist, so such a file is replaced by the kubeconfig kdap was given.
bool is_in_cluster_kubeconfig(const std::string& content) {
  try {
    const YAML::Node root = YAML::Load(content);
    if (!root.IsMap() || !root["kind"] || root["kind"].as<std::string>("") != "Config") return false;
    const YAML::Node users = root["users"];
    if (!users || !users.IsSequence()) return false;
    for (const auto& entry : users) {
      if (!entry.IsMap() || !entry["user"] || !entry["user"].IsMap()) continue;
      const YAML::Node token_file = entry["user"]["tokenFile"];
      if (token_file && token_file.as<std::string>("").starts_with(kServiceAccountDir)) return true;
    }
  } catch (const YAML::Exception&) {
  }
  return false;
}

// ---- path rewriting ----

// A mount path (or one file under it) and where references to it go: `to` empty keeps the reference
// (hostPath: the node's own path; volumes kdap cannot reproduce). Keeping rules still take part in the
// longest match, so a secret mounted inside a ConfigMap mount is not rewritten into the ConfigMap's copy.
struct PathRule {
  std::string from;
  std::optional<std::string> to;
  std::string volume;       // for warnings
  std::string description;  // for warnings: "secret tls", ...
};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("._-~+@%").find(c) != std::string_view::npos;
}

class PathRewriter {
 public:
  void add(PathRule rule) {
    rule.from = trim_trailing_slashes(std::move(rule.from));
    if (rule.from.size() < 2 || rule.from.front() != '/') return;
    rules_.push_back(std::move(rule));
    std::stable_sort(rules_.begin(), rules_.end(),
                     [](const PathRule& a, const PathRule& b) { return a.from.size() > b.from.size(); });
  }

  // The rule covering `path` (the longest whose `from` is `path` or a directory above it).
  const PathRule* covering(const std::string& path) const {
    for (const auto& rule : rules_) {
      if (path.starts_with(rule.from) && (path.size() == rule.from.size() || path[rule.from.size()] == '/')) {
        return &rule;
      }
    }
    return nullptr;
  }

  // Rewrites every absolute path in `text` that starts at a word boundary and continues at a path
  // boundary: `--config=/var/lib/x/c.conf`, `kubeconfig: /var/lib/x/k.conf`, but not `/var/lib/x-other` or
  // `/opt/var/lib/x`. `used` collects the rules that matched.
  std::string rewrite(const std::string& text, std::set<const PathRule*>* used = nullptr) const {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
      if (text[i] == '/' && (i == 0 || (!is_name_char(text[i - 1]) && text[i - 1] != '/'))) {
        const PathRule* match = nullptr;
        for (const auto& rule : rules_) {
          const std::size_t end = i + rule.from.size();
          if (text.compare(i, rule.from.size(), rule.from) == 0 &&
              (end == text.size() || text[end] == '/' || !is_name_char(text[end]))) {
            match = &rule;
            break;
          }
        }
        if (match) {
          out += match->to ? *match->to : match->from;
          i += match->from.size();
          if (used) used->insert(match);
          continue;
        }
      }
      out += text[i++];
    }
    return out;
  }

 private:
  std::vector<PathRule> rules_;
};

// ---- env ----

struct EnvContext {
  const json& ds;
  const json& pod_spec;
  const json& pod;  // null when the target has no pod
  const std::map<std::string, json>& configmaps;
  const DaemonSetRef& ref;
  const std::string& node_name;
};

// metadata.labels['key'] -> key
std::optional<std::string> subscript(const std::string& path, std::string_view prefix) {
  if (!path.starts_with(prefix) || !path.ends_with("']") || path.size() < prefix.size() + 4)
    return std::nullopt;
  if (path.compare(prefix.size(), 2, "['") != 0) return std::nullopt;
  return path.substr(prefix.size() + 2, path.size() - prefix.size() - 4);
}

std::string pod_ips(const json& pod, const char* list, const char* single) {
  std::vector<std::string> ips;
  if (const json* items = at_path(pod, {"status", list}); items && items->is_array()) {
    for (const auto& item : *items) add_unique(ips, item.is_object() ? item.value("ip", "") : "");
  }
  if (ips.empty()) add_unique(ips, string_at(pod, {"status", single}));
  return join(ips, ",");
}

// What the kubelet would put in a fieldRef variable, when kdap can know it before the pod exists (or from
// the pod the target passed).
std::optional<std::string> field_value(const std::string& path, const EnvContext& ctx) {
  const bool have_pod = ctx.pod.is_object();
  if (path == "spec.nodeName") return ctx.node_name;
  if (path == "metadata.namespace") return ctx.ref.ns;
  if (path == "spec.serviceAccountName") {
    for (const char* key : {"serviceAccountName", "serviceAccount"}) {
      if (auto name = string_at(ctx.pod_spec, {key}); !name.empty()) return name;
    }
    return "default";
  }
  for (const char* map : {"labels", "annotations"}) {
    if (auto key = subscript(path, std::string("metadata.") + map)) {
      if (have_pod) return string_at(ctx.pod, {"metadata", map, *key});
      // The controller adds these two labels to each pod; their values are the pod's, not the template's.
      if (*key == "controller-revision-hash" || *key == "pod-template-generation") return std::nullopt;
      return string_at(ctx.ds, {"spec", "template", "metadata", map, *key});
    }
  }
  if (!have_pod) return std::nullopt;
  if (path == "metadata.name") return string_at(ctx.pod, {"metadata", "name"});
  if (path == "metadata.uid") return string_at(ctx.pod, {"metadata", "uid"});
  if (path == "status.podIP") return string_at(ctx.pod, {"status", "podIP"});
  if (path == "status.hostIP") return string_at(ctx.pod, {"status", "hostIP"});
  if (path == "status.podIPs") return pod_ips(ctx.pod, "podIPs", "podIP");
  if (path == "status.hostIPs") return pod_ips(ctx.pod, "hostIPs", "hostIP");
  return std::nullopt;
}

const json* configmap_from_input(const EnvContext& ctx, const std::string& name, bool optional,
                                 const std::string& user, std::vector<std::string>& warnings) {
  auto it = ctx.configmaps.find(name);
  if (it != ctx.configmaps.end()) return &it->second;
  if (optional) {
    warnings.push_back(user + ": the optional ConfigMap " + name +
                       " was not given, so kdap takes it as absent");
    return nullptr;
  }
  throw TargetError(user + " needs ConfigMap " + ctx.ref.ns + "/" + name +
                    ", which the input lacks: fetch it with `kubectl get configmap " + name + " -n " +
                    ctx.ref.ns + " -o json` (referenced_configmaps() lists what to fetch)");
}

// The kubelet's order: envFrom first, then env in order, each value expanded with the variables before it
// (pkg/kubelet/kubelet_pods.go, makeEnvironmentVariables).
EnvList resolve_env(const ContainerSpec& c, const EnvContext& ctx, std::vector<std::string>& unresolved,
                    std::vector<std::string>& warnings) {
  EnvList env;
  const std::string container = "container " + c.container_name + " of " + ctx.ref.text;
  for (const auto& from : c.env_from) {
    if (from.source == "configMapRef") {
      const json* cm =
          configmap_from_input(ctx, from.name, from.optional, container + " (envFrom)", warnings);
      const json* data = cm ? at_path(*cm, {"data"}) : nullptr;
      if (!data || !data->is_object()) continue;
      std::vector<std::string> skipped;
      for (const auto& [key, value] : data->items()) {
        if (!is_env_name(from.prefix + key) || !value.is_string()) {
          skipped.push_back(key);
          continue;
        }
        set_env(env, from.prefix + key, value.get<std::string>());
      }
      if (!skipped.empty()) {
        warnings.push_back("keys " + join(skipped, ", ") + " of ConfigMap " + from.name +
                           " are not valid variable names; the kubelet skips them too");
      }
    } else {
      warnings.push_back(container + " takes variables from " +
                         (from.source.empty() ? "an envFrom source" : from.source + " " + from.name) +
                         ", which kdap does not read (Secrets stay in the cluster); set the ones the "
                         "program needs with `env` in the launch configuration");
    }
  }
  for (const auto& e : c.env_entries) {
    const std::string what = "env " + e.name;
    if (e.source.empty()) {
      set_env(env, e.name, expand_k8s_vars(e.value, env));
      continue;
    }
    if (e.source == "fieldRef") {
      if (auto value = field_value(e.source_name, ctx)) {
        set_env(env, e.name, *value);
        continue;
      }
      unresolved.push_back(e.name);
      warnings.push_back(what + " (fieldRef " + e.source_name + ") is not set: only the pod knows it" +
                         (ctx.pod.is_object() ? "" : " and kdap was not given the pod") +
                         "; set it with `env` in the launch configuration");
    } else if (e.source == "configMapKeyRef") {
      const json* cm =
          configmap_from_input(ctx, e.source_name, e.optional, container + " (" + what + ")", warnings);
      const json* value = cm ? at_path(*cm, {"data", e.source_key}) : nullptr;
      if (value && value->is_string()) {
        set_env(env, e.name, value->get<std::string>());
      } else if (cm && !e.optional) {
        throw TargetError(container + ": " + what + " reads key " + e.source_key + " of ConfigMap " +
                          e.source_name +
                          ", which has no such key; the kubelet cannot start the container "
                          "either. Add the key or mark the reference optional.");
      }
    } else {
      unresolved.push_back(e.name);
      const std::string from =
          e.source == "secretKeyRef"
              ? "secretKeyRef " + e.source_name + "/" + e.source_key + ": kdap does not read Secrets"
              : e.source + " " + e.source_name + ": kdap cannot compute it";
      warnings.push_back(what + " (" + from + ") is not set; set it with `env` in the launch configuration");
    }
  }
  return env;
}

// Warns about arguments that keep $(NAME) as written because NAME could not be resolved.
void warn_unexpanded(const std::vector<std::string>& raw_argv, const EnvList& env,
                     const std::vector<std::string>& unresolved, std::vector<std::string>& warnings) {
  if (unresolved.empty()) return;
  // Expanding with a marker for the unresolved names finds real references and ignores $$(NAME) escapes.
  EnvList marked = env;
  for (const auto& name : unresolved) marked.emplace_back(name, std::string(1, '\x01'));
  for (const auto& arg : raw_argv) {
    if (expand_k8s_vars(arg, marked).find('\x01') != std::string::npos) {
      warnings.push_back("argument " + arg + " keeps its $(...) as written because the variable is not set");
    }
  }
}

// ---- volumes ----

struct VolumeFile {
  std::string path;  // inside the volume
  std::string content;
  std::string mode;
  bool binary = false;
  std::string key;
};

std::vector<VolumeFile> configmap_volume_files(const json& source, const json* cm, const std::string& volume,
                                               const DaemonSetRef& ref) {
  std::vector<VolumeFile> files;
  if (!cm) return files;
  const std::string cm_name = source.value("name", "");
  const std::string default_mode =
      file_mode(at_path(source, {"defaultMode"}), "volume " + volume + " configMap.defaultMode", ref.text);
  auto value_of = [&](const std::string& key, VolumeFile& file) {
    if (const json* v = at_path(*cm, {"data", key}); v && v->is_string()) {
      file.content = v->get<std::string>();
      return true;
    }
    if (const json* v = at_path(*cm, {"binaryData", key}); v && v->is_string()) {
      file.content =
          decode_base64_or_throw(v->get<std::string>(), "ConfigMap " + cm_name + " binaryData " + key);
      file.binary = true;
      return true;
    }
    return false;
  };
  if (const json* items = at_path(source, {"items"}); items && items->is_array()) {
    for (const auto& item : *items) {
      VolumeFile file;
      file.path = item.value("path", "");
      file.key = item.value("key", "");
      check_relative_path(file.path, "volume " + volume + " items path", ref.text);
      file.mode = at_path(item, {"mode"})
                      ? file_mode(at_path(item, {"mode"}), "volume " + volume + " items mode", ref.text)
                      : default_mode;
      if (!value_of(file.key, file)) {
        if (bool_at(source, {"optional"})) continue;
        throw TargetError(ref.text + ": volume " + volume + " lists key " + file.key + " of ConfigMap " +
                          cm_name +
                          ", which has no such key; the kubelet cannot mount it either. Add the key or mark "
                          "the volume optional.");
      }
      files.push_back(std::move(file));
    }
    return files;
  }
  std::set<std::string> keys;
  for (const char* section : {"data", "binaryData"}) {
    if (const json* data = at_path(*cm, {section}); data && data->is_object()) {
      for (const auto& [key, value] : data->items()) keys.insert(key);
    }
  }
  for (const auto& key : keys) {
    VolumeFile file;
    file.path = key;
    file.mode = default_mode;
    file.key = key;
    check_relative_path(key, "ConfigMap " + cm_name + " key", ref.text);
    value_of(key, file);
    files.push_back(std::move(file));
  }
  return files;
}

std::string describe_volume(const std::string& kind, const json& volume) {
  const json& source = volume.contains(kind) ? volume.at(kind) : volume;
  for (const char* key : {"secretName", "claimName", "name", "driver"}) {
    if (source.is_object() && source.contains(key) && source.at(key).is_string()) {
      return kind + " " + source.at(key).get<std::string>();
    }
  }
  if (kind == "projected" && source.is_object() && source.contains("sources") &&
      source.at("sources").is_array()) {
    std::vector<std::string> parts;
    for (const auto& part : source.at("sources")) {
      for (const auto& [key, value] : part.items()) {
        add_unique(parts,
                   key + (value.is_object() && value.contains("name") ? " " + value.value("name", "") : ""));
      }
    }
    return "projected: " + join(parts, ", ");
  }
  return kind;
}

std::string summary_line(const DaemonSetRef& ref, const ContainerSpec& c, const DaemonSetPlan& plan,
                         const std::string& node_name, const std::string& files_dir) {
  std::string line =
      ref.text + ", container " + c.container_name + " on " + node_name + ": " + join(plan.argv, " ");
  if (!plan.files.empty()) {
    line += " (" + std::to_string(plan.files.size()) + (plan.files.size() == 1 ? " file" : " files") +
            " from ConfigMaps under " + files_dir + ")";
  }
  return line;
}

json op(const char* name, const std::string& path, std::optional<json> value = std::nullopt) {
  json o = json::object();
  o["op"] = name;
  o["path"] = path;
  if (value) o["value"] = std::move(*value);
  return o;
}

// ---- parking ----

json exclusion(const std::string& node_name) {
  json requirement = json::object();
  requirement["key"] = "metadata.name";
  requirement["operator"] = "NotIn";
  requirement["values"] = json::array({node_name});
  return requirement;
}

json exclusion_term(const std::string& node_name) {
  json term = json::object();
  term["matchFields"] = json::array({exclusion(node_name)});
  return term;
}

// An empty term matches no node (component-helpers nodeaffinity skips it), so adding a requirement to it
// would make it match every other node. It is left as it is.
bool is_empty_term(const json& term) {
  if (!term.is_object()) return true;
  for (const char* key : {"matchExpressions", "matchFields"}) {
    const json* list = at_path(term, {key});
    if (list && list->is_array() && !list->empty()) return false;
  }
  return true;
}

// The one place park_patch changes in the pod template: the shallowest missing level of
// affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, or that selector itself.
struct AffinityChange {
  std::string path;
  std::optional<json> original;  // nullopt: park adds it, restore removes it
  json parked;
};

AffinityChange affinity_change(const json& ds, const std::string& node_name) {
  json required = json::object();
  required["nodeSelectorTerms"] = json::array({exclusion_term(node_name)});
  std::string path = "/spec/template/spec/affinity";
  const json* affinity = at_path(ds, {"spec", "template", "spec", "affinity"});
  if (!affinity) {
    json value = json::object();
    value["nodeAffinity"][kRequired] = required;
    return {path, std::nullopt, value};
  }
  path += "/nodeAffinity";
  const json* node_affinity = at_path(*affinity, {"nodeAffinity"});
  if (!node_affinity) {
    json value = json::object();
    value[kRequired] = required;
    return {path, std::nullopt, value};
  }
  path += std::string("/") + kRequired;
  const json* selector = at_path(*node_affinity, {kRequired});
  if (!selector) return {path, std::nullopt, required};
  // Terms are ORed, so the exclusion goes into every term (requirements within a term are ANDed).
  json parked = *selector;
  json& terms = parked["nodeSelectorTerms"];
  if (!terms.is_array() || terms.empty()) {
    terms = json::array({exclusion_term(node_name)});
  } else {
    for (auto& term : terms) {
      if (is_empty_term(term)) continue;
      json& fields = term["matchFields"];
      if (!fields.is_array()) fields = json::array();
      fields.push_back(exclusion(node_name));
    }
  }
  return {path, *selector, parked};
}

const json& on_delete() {
  static const json strategy = json{{"type", "OnDelete"}};
  return strategy;
}

void refuse_if_parked(const json& ds, const DaemonSetRef& ref) {
  const std::string parked_on = string_at(ds, {"metadata", "annotations", kParkedOnAnnotation});
  if (parked_on.empty()) return;
  throw TargetError(ref.text + " is already parked on node " + parked_on + " (annotation " +
                    kParkedOnAnnotation +
                    "): kdap debugs one node per DaemonSet at a time. End that session, "
                    "or run `kdap restore` on " +
                    parked_on + " if it never restored.");
}

}  // namespace

std::vector<std::string> referenced_configmaps(const json& daemonset,
                                               const std::optional<std::string>& container) {
  const DaemonSetRef ref = identify(daemonset);
  const ContainerSpec c = parse_pod_container(
      *ref.pod_spec, container_to_debug(daemonset, *ref.pod_spec, container), ref.text, "spec.template.spec");
  std::vector<std::string> names;
  for (const auto& mount : c.volume_mounts) {
    const json* volume = volume_named(*ref.pod_spec, mount.name);
    if (volume) add_unique(names, string_at(*volume, {"configMap", "name"}));
  }
  for (const auto& e : c.env_entries) {
    if (e.source == "configMapKeyRef") add_unique(names, e.source_name);
  }
  for (const auto& from : c.env_from) {
    if (from.source == "configMapRef") add_unique(names, from.name);
  }
  return names;
}

DaemonSetPlan plan_daemonset(const DaemonSetInput& input) {
  const DaemonSetRef ref = identify(input.daemonset);
  require_node_name(input.node_name);
  std::string files_dir = input.files_dir;
  while (files_dir.size() > 1 && files_dir.back() == '/') files_dir.pop_back();
  if (files_dir.size() < 2 || files_dir.front() != '/') {
    throw TargetError("files_dir '" + input.files_dir + "' must be an absolute directory other than /");
  }
  if (input.kubeconfig.empty() || input.kubeconfig.front() != '/') {
    throw TargetError("the kubeconfig for " + ref.text + " must be an absolute path on the node, not '" +
                      input.kubeconfig + "'");
  }
  const json& pod_spec = *ref.pod_spec;
  const ContainerSpec c =
      parse_pod_container(pod_spec, container_to_debug(input.daemonset, pod_spec, input.container), ref.text,
                          "spec.template.spec");
  const std::string container = "container " + c.container_name + " of " + ref.text;
  if (c.command.empty()) {
    throw TargetError(container +
                      " has no command, so kdap cannot tell which binary runs (the image's entrypoint is not "
                      "in the DaemonSet). Set `program` and `args` in the launch configuration.");
  }

  DaemonSetPlan plan;
  const EnvContext ctx{input.daemonset, pod_spec, input.pod, input.configmaps, ref, input.node_name};
  std::vector<std::string> unresolved;
  EnvList env = resolve_env(c, ctx, unresolved, plan.warnings);

  // Every mount becomes a rule; ConfigMap mounts also yield the files kdap writes.
  struct MountedFile {
    std::string mount_path;
    std::string container_path;
    VolumeFile file;
    std::string configmap;
  };
  PathRewriter rewriter;
  std::vector<MountedFile> mounted;
  for (const auto& mount : c.volume_mounts) {
    const json* volume = volume_named(pod_spec, mount.name);
    if (!volume) {
      throw TargetError(container + " mounts volume " + mount.name +
                        ", which spec.template.spec.volumes does not define");
    }
    const std::string mount_path = trim_trailing_slashes(mount.mount_path);
    const std::string kind = volume_kind(*volume);
    if (kind != "configMap") {
      rewriter.add(
          {mount_path, std::nullopt, mount.name, kind == "hostPath" ? kind : describe_volume(kind, *volume)});
      continue;
    }
    const json& source = volume->at("configMap");
    const std::string cm_name = source.value("name", "");
    if (cm_name.empty()) throw TargetError(ref.text + ": volume " + mount.name + " names no ConfigMap");
    const json* cm = configmap_from_input(ctx, cm_name, bool_at(source, {"optional"}),
                                          ref.text + " (volume " + mount.name + ")", plan.warnings);
    rewriter.add({mount_path, files_dir + mount_path, mount.name, "configMap " + cm_name});
    const std::string sub_path = trim_trailing_slashes(
        mount.sub_path.empty() ? expand_k8s_vars(mount.sub_path_expr, env) : mount.sub_path);
    bool any = false;
    for (auto& file : configmap_volume_files(source, cm, mount.name, ref)) {
      std::string visible;
      if (sub_path.empty()) {
        visible = "/" + file.path;
      } else if (file.path == sub_path) {
        visible = "";
      } else if (file.path.starts_with(sub_path + "/")) {
        visible = file.path.substr(sub_path.size());
      } else {
        continue;
      }
      any = true;
      mounted.push_back({mount_path, mount_path + visible, std::move(file), cm_name});
    }
    if (!sub_path.empty() && !any && cm) {
      plan.warnings.push_back("volume " + mount.name + ": subPath " + sub_path +
                              " names nothing in ConfigMap " + cm_name + ", so " + mount_path +
                              " is an empty directory in the pod and kdap writes nothing there");
    }
  }

  // A file hidden in the pod by a deeper mount is not written. An in-cluster kubeconfig is not written
  // either: references to it go to the kubeconfig kdap was given.
  std::vector<MountedFile> to_write;
  std::vector<std::string> in_cluster_kubeconfigs;
  for (auto& m : mounted) {
    const PathRule* owner = rewriter.covering(m.container_path);
    if (!owner || owner->from != m.mount_path) continue;
    if (!m.file.binary && is_in_cluster_kubeconfig(m.file.content)) {
      in_cluster_kubeconfigs.push_back(m.container_path);
      plan.warnings.push_back(
          m.container_path + " (key " + m.file.key + " of ConfigMap " + m.configmap +
          ") is an in-cluster kubeconfig: it authenticates with the pod's service-account "
          "token, which does not exist on the node. kdap does not write it; references "
          "to it point to " +
          input.kubeconfig + " (`kubeconfig` in the launch configuration) instead.");
      continue;
    }
    to_write.push_back(std::move(m));
  }
  for (const auto& path : in_cluster_kubeconfigs) rewriter.add({path, input.kubeconfig, "", "kubeconfig"});

  std::set<const PathRule*> used;
  for (auto& m : to_write) {
    std::string content = m.file.binary ? std::move(m.file.content) : rewriter.rewrite(m.file.content);
    plan.files.push_back({files_dir + m.container_path, std::move(content), m.file.mode});
  }
  std::vector<std::string> raw_argv = c.command;
  raw_argv.insert(raw_argv.end(), c.args.begin(), c.args.end());
  warn_unexpanded(raw_argv, env, unresolved, plan.warnings);
  std::map<const PathRule*, std::vector<std::string>> users;
  auto note_users = [&](const std::set<const PathRule*>& matched, const std::string& who) {
    for (const PathRule* rule : matched) users[rule].push_back(who);
  };
  for (const auto& arg : raw_argv) {
    std::set<const PathRule*> matched;
    plan.argv.push_back(rewriter.rewrite(expand_k8s_vars(arg, env), &matched));
    note_users(matched, arg);
  }
  for (auto& [name, value] : env) {
    std::set<const PathRule*> matched;
    value = rewriter.rewrite(value, &matched);
    note_users(matched, "env " + name);
  }
  plan.env = std::move(env);
  if (c.working_dir) {
    std::set<const PathRule*> matched;
    plan.cwd = rewriter.rewrite(*c.working_dir, &matched);
    note_users(matched, "workingDir");
  }

  for (const auto& mount : c.volume_mounts) {
    const PathRule* rule = rewriter.covering(trim_trailing_slashes(mount.mount_path));
    if (!rule || rule->to || rule->description == "hostPath" || rule->volume != mount.name) continue;
    std::string warning = "volume " + mount.name + " (" + rule->description + ") mounted at " + rule->from +
                          " is not reproduced: kdap copies only ConfigMaps, so the process sees the node's " +
                          rule->from + " instead";
    if (auto it = users.find(rule); it != users.end()) warning += "; used by " + join(it->second, ", ");
    plan.warnings.push_back(warning);
  }
  if (!bool_at(pod_spec, {"hostNetwork"})) {
    plan.warnings.push_back(ref.text +
                            " does not use the host network; under dlv the process runs in the "
                            "node's network namespace, with the node's addresses and ports");
  }
  plan.summary = summary_line(ref, c, plan, input.node_name, files_dir);
  return plan;
}

json park_patch(const json& daemonset, const std::string& node_name) {
  const DaemonSetRef ref = identify(daemonset);
  require_node_name(node_name);
  refuse_if_parked(daemonset, ref);
  json patch = json::array();
  // generation moves on every spec change and never on status updates (pkg/registry/apps/daemonset
  // strategy.go), so this test catches exactly a spec that changed since it was read.
  if (const json* generation = at_path(daemonset, {"metadata", "generation"});
      generation && generation->is_number()) {
    patch.push_back(op("test", "/metadata/generation", *generation));
  }
  const AffinityChange affinity = affinity_change(daemonset, node_name);
  if (affinity.original) {
    patch.push_back(op("test", affinity.path, *affinity.original));
    patch.push_back(op("replace", affinity.path, affinity.parked));
  } else {
    patch.push_back(op("add", affinity.path, affinity.parked));
  }
  // Why OnDelete: the DaemonSet controller's manage() deletes the pod from a node that no longer matches
  // the template's required node affinity, whatever the strategy (NodeShouldRunDaemonPod returns false,
  // false; podsShouldBeOnNode deletes). Under RollingUpdate, rollingUpdate() would also replace every pod
  // whose controller-revision-hash differs from the new template's hash, i.e. all of them on every node,
  // once at park and again at restore. With OnDelete it does nothing to them (pkg/controller/daemon,
  // updateDaemonSet). Restoring the template makes it equal to the original again: constructHistory finds
  // the original ControllerRevision by Match() and reuses it, so the hash the pods carry is current again
  // and the restored RollingUpdate has nothing to roll. Only pods created while parked (a new node, a pod
  // deleted meanwhile) carry the parked hash and get replaced once.
  if (const json* strategy = at_path(daemonset, {"spec", "updateStrategy"}); !strategy) {
    patch.push_back(op("add", "/spec/updateStrategy", on_delete()));
  } else if (*strategy != on_delete()) {
    patch.push_back(op("test", "/spec/updateStrategy", *strategy));
    patch.push_back(op("replace", "/spec/updateStrategy", on_delete()));
  }
  if (!at_path(daemonset, {"metadata", "annotations"})) {
    patch.push_back(op("add", "/metadata/annotations", json{{kParkedOnAnnotation, node_name}}));
  } else {
    patch.push_back(op("add", "/metadata/annotations/" + pointer_escape(kParkedOnAnnotation), node_name));
  }
  return patch;
}

namespace {

json restore_ops(const json& original_daemonset, const std::optional<std::string>& node_name) {
  const DaemonSetRef ref = identify(original_daemonset);
  if (node_name) require_node_name(*node_name);
  refuse_if_parked(original_daemonset, ref);
  json patch = json::array();
  // `remove` fails on a missing member, so even without the node name the patch needs a parked DaemonSet.
  const std::string annotation = "/metadata/annotations/" + pointer_escape(kParkedOnAnnotation);
  if (node_name) patch.push_back(op("test", annotation, *node_name));
  patch.push_back(op("remove", annotation));
  // The parked value is recomputed from the original: park_patch is a function of the original alone.
  const AffinityChange affinity = affinity_change(original_daemonset, node_name.value_or("node"));
  if (node_name) patch.push_back(op("test", affinity.path, affinity.parked));
  patch.push_back(affinity.original ? op("replace", affinity.path, *affinity.original)
                                    : op("remove", affinity.path));
  if (const json* strategy = at_path(original_daemonset, {"spec", "updateStrategy"}); !strategy) {
    patch.push_back(op("test", "/spec/updateStrategy", on_delete()));
    patch.push_back(op("remove", "/spec/updateStrategy"));
  } else if (*strategy != on_delete()) {
    patch.push_back(op("test", "/spec/updateStrategy", on_delete()));
    patch.push_back(op("replace", "/spec/updateStrategy", *strategy));
  }
  return patch;
}

}  // namespace

json restore_patch(const json& original_daemonset, const std::string& node_name) {
  return restore_ops(original_daemonset, node_name);
}

json restore_patch(const json& original_daemonset) {
  return restore_ops(original_daemonset, std::nullopt);
}

std::string canonical_spec(const json& daemonset) {
  if (!daemonset.is_object() || !daemonset.contains("spec")) return "null";
  json spec = daemonset.at("spec");
  if (spec.is_object()) spec.erase("templateGeneration");
  return spec.dump();
}

}  // namespace kdap::targets

#include "bridge/config/launch_config.h"

#include <algorithm>
#include <array>
#include <set>

namespace kdap::config {
namespace {

// dlv's attach options (service/dap/types.go) that kdap hands to dlv unchanged.
constexpr std::array kDlvAttachKeys = {
    "substitutePath",   "stopOnEntry",     "showGlobalVariables", "showRegisters",  "hideSystemGoroutines",
    "goroutineFilters", "stackTraceDepth", "showPprofLabels",     "showRawStrings", "followExec",
    "followExecRegex",  "backend",         "maxStringLen",        "maxArrayValues", "maxVariableRecurse",
    "showLog",          "logOutput"};

// Attributes editors add to every configuration; not kdap's business and not a typo.
constexpr std::array kEditorKeys = {"type",
                                    "request",
                                    "name",
                                    "preLaunchTask",
                                    "postDebugTask",
                                    "presentation",
                                    "internalConsoleOptions",
                                    "debugServer",
                                    "__configurationTarget",
                                    "__sessionId",
                                    "__pendingTargets",
                                    "noDebug",
                                    "__restart",
                                    "cwdRoot",
                                    "localRoot"};

std::string where(std::string_view key) {
  return "launch configuration: `" + std::string(key) + "`";
}

std::string string_at(const Json& args, const char* key) {
  const Json& v = args.at(key);
  if (!v.is_string()) throw ConfigError(where(key) + " must be a string");
  if (v.get_ref<const std::string&>().empty()) throw ConfigError(where(key) + " must not be empty");
  return v.get<std::string>();
}

std::optional<std::string> optional_string(const Json& args, const char* key) {
  if (!args.contains(key) || args.at(key).is_null()) return std::nullopt;
  return string_at(args, key);
}

std::vector<std::string> string_list(const Json& args, const char* key) {
  const Json& v = args.at(key);
  if (!v.is_array()) throw ConfigError(where(key) + " must be a list of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) {
      throw ConfigError(where(key) + "[" + std::to_string(i) + "] must be a string, not " + v[i].dump());
    }
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

std::chrono::seconds seconds_at(const Json& args, const char* key, std::chrono::seconds fallback) {
  if (!args.contains(key)) return fallback;
  const Json& v = args.at(key);
  if (!v.is_number() || v.get<double>() <= 0 || v.get<double>() > 3600) {
    throw ConfigError(where(key) + " must be a number of seconds between 1 and 3600");
  }
  return std::chrono::seconds(static_cast<long>(v.get<double>() + 0.999));
}

}  // namespace

const char* known_target_kinds() {
  return "static-pod/<name>, systemd/<unit>, daemonset/[<namespace>/]<name>, pid/<pid>, process/<name>, exec";
}

TargetSpec parse_target(const std::string& text) {
  TargetSpec spec;
  spec.text = text;
  if (text == "exec") {
    spec.kind = TargetKind::kExec;
    return spec;
  }
  auto slash = text.find('/');
  std::string kind = text.substr(0, slash);
  spec.name = slash == std::string::npos ? "" : text.substr(slash + 1);
  static const std::map<std::string, TargetKind> kinds = {{"static-pod", TargetKind::kStaticPod},
                                                          {"systemd", TargetKind::kSystemd},
                                                          {"daemonset", TargetKind::kDaemonSet},
                                                          {"pid", TargetKind::kPid},
                                                          {"process", TargetKind::kProcess}};
  auto it = kinds.find(kind);
  if (it == kinds.end()) {
    throw ConfigError(where("target") + " has an unknown kind '" + kind +
                      "'; known kinds: " + known_target_kinds());
  }
  spec.kind = it->second;
  if (spec.name.empty()) {
    throw ConfigError(where("target") + " '" + text + "' names no component; write it as " + kind +
                      "/<name>");
  }
  if (spec.kind == TargetKind::kPid && (spec.name.find_first_not_of("0123456789") != std::string::npos ||
                                        spec.name.size() > 9 || std::stoi(spec.name) <= 0)) {
    throw ConfigError(where("target") + " '" + text + "': pid/ takes a process id, e.g. pid/4242");
  }
  if (spec.kind == TargetKind::kStaticPod &&
      (spec.name.find('/') != std::string::npos || spec.name.starts_with("."))) {
    throw ConfigError(where("target") + " '" + text +
                      "': a static pod is named by its manifest's file name without .yaml, e.g. "
                      "static-pod/kube-scheduler");
  }
  return spec;
}

std::string session_name(const LaunchConfig& config) {
  if (config.target.kind == TargetKind::kExec && config.program) return "exec/" + *config.program;
  if (config.target.kind == TargetKind::kExec && config.upload_program)
    return "exec/" + *config.upload_program;
  return config.target.text;
}

std::string subject(const LaunchConfig& config) {
  return config.target.text.empty() && config.component ? *config.component : config.target.text;
}

std::vector<std::string> merge_args(std::vector<std::string> base, const std::vector<std::string>& extra) {
  for (const auto& arg : extra) {
    auto eq = arg.find('=');
    std::string flag = arg.substr(0, eq);
    bool replaced = false;
    if (flag.starts_with("-")) {
      for (auto& existing : base) {
        if (existing == flag || existing.starts_with(flag + "=")) {
          existing = arg;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) base.push_back(arg);
  }
  return base;
}

LaunchConfig parse_launch_config(const Json& args) {
  if (!args.is_object()) throw ConfigError("launch configuration: the arguments must be a JSON object");
  LaunchConfig c;
  try {
    c.host = optional_string(args, "host");
    c.identity_file = optional_string(args, "identityFile");
    c.known_hosts_file = optional_string(args, "knownHostsFile");
    c.ssh_config_file = optional_string(args, "sshConfigFile");
    auto target = optional_string(args, "target");
    c.component = optional_string(args, "component");
    if (target && c.component) {
      throw ConfigError(where("component") + " and " + where("target") +
                        " are both set; keep one: `component` lets kdap find the kind, `target` names it");
    }
    if (!target && !c.component) {
      throw ConfigError(where("target") +
                        " is missing; say what to debug, e.g. \"target\": "
                        "\"static-pod/kube-scheduler\" (known kinds: " +
                        std::string(known_target_kinds()) +
                        "), or \"component\": \"kube-scheduler\" to let kdap find it");
    }
    if (c.component && (c.component->empty() || c.component->find('/') != std::string::npos)) {
      throw ConfigError(where("component") + " '" + *c.component +
                        "' must be a bare name such as kube-scheduler or kubelet; use `target` for a kind");
    }
    if (target) c.target = parse_target(*target);
    if (auto v = optional_string(args, "manifestDir")) c.manifest_dir = *v;
    if (auto v = optional_string(args, "stateDir")) c.state_dir = *v;
    for (auto* dir : {&c.manifest_dir, &c.state_dir}) {
      if (dir->front() != '/')
        throw ConfigError(where(dir == &c.manifest_dir ? "manifestDir" : "stateDir") +
                          " must be an absolute path on the node");
    }
    c.program = optional_string(args, "program");
    if (args.contains("args")) c.args = string_list(args, "args");
    if (target && c.target.kind == TargetKind::kExec && !c.program && !args.contains("uploadProgram")) {
      throw ConfigError(where("program") +
                        " is missing: \"target\": \"exec\" runs `program` (a path on the node) with `args`");
    }
    if (args.contains("extraArgs")) c.extra_args = string_list(args, "extraArgs");
    if (args.contains("env")) {
      const Json& env = args.at("env");
      if (!env.is_object()) throw ConfigError(where("env") + " must be an object of NAME: \"value\" strings");
      for (auto& [k, v] : env.items()) {
        if (!v.is_string()) throw ConfigError(where("env." + k) + " must be a string");
        c.env.emplace_back(k, v.get<std::string>());
      }
    }
    c.cwd = optional_string(args, "cwd");
    if (auto v = optional_string(args, "kubeconfig")) c.kubeconfig = *v;
    if (auto v = optional_string(args, "kubectl")) c.kubectl = *v;
    c.node_name = optional_string(args, "nodeName");
    if (auto v = optional_string(args, "dlvPath")) c.dlv_path = *v;
    c.upload_program = optional_string(args, "uploadProgram");
    c.local_root = optional_string(args, "localRoot");
    if (c.local_root && (c.local_root->empty() || c.local_root->front() != '/')) c.local_root.reset();
    if (args.contains("uploadDlv")) {
      const Json& v = args.at("uploadDlv");
      if (v.is_boolean()) {
        if (v.get<bool>()) c.upload_dlv = "";
      } else if (v.is_string() && !v.get<std::string>().empty()) {
        c.upload_dlv = v.get<std::string>();
      } else {
        throw ConfigError(
            where("uploadDlv") +
            " must be true (upload the dlv on kdap's PATH) or the path of a dlv on this machine");
      }
    }
    if (args.contains("debugSafeFlags")) {
      if (!args.at("debugSafeFlags").is_boolean())
        throw ConfigError(where("debugSafeFlags") + " must be true or false");
      c.debug_safe_flags = args.at("debugSafeFlags").get<bool>();
    }
    if (args.contains("keepUpload")) {
      if (!args.at("keepUpload").is_boolean())
        throw ConfigError(where("keepUpload") + " must be true or false");
      c.keep_upload = args.at("keepUpload").get<bool>();
    }
    if (c.upload_program && c.program) {
      throw ConfigError(where("uploadProgram") + " and " + where("program") +
                        " are both set; keep one: uploadProgram copies a local file and runs that");
    }
    if (args.contains("dlvFlags")) c.dlv_flags = string_list(args, "dlvFlags");
    for (const auto& flag : c.dlv_flags) {
      if (flag.starts_with("--listen") || flag.starts_with("-l=") || flag == "-l" ||
          flag.starts_with("--headless")) {
        throw ConfigError(
            where("dlvFlags") + " must not set " + flag +
            ": kdap chooses the listen address itself so that dlv stays on the node's loopback");
      }
    }
    c.connect_timeout = seconds_at(args, "connectTimeout", c.connect_timeout);
    c.stop_timeout = seconds_at(args, "stopTimeout", c.stop_timeout);
    c.start_timeout = seconds_at(args, "startTimeout", c.start_timeout);
    c.dlv_timeout = seconds_at(args, "dlvTimeout", c.dlv_timeout);
    c.guard_keepalive = seconds_at(args, "guardKeepalive", c.guard_keepalive);
    if (c.guard_keepalive.count() < 3)
      throw ConfigError(where("guardKeepalive") + " must be at least 3 seconds");
    for (const char* key : kDlvAttachKeys) {
      if (args.contains(key)) c.dlv_attach[key] = args.at(key);
    }
    if (c.dlv_attach.contains("substitutePath") && !c.dlv_attach["substitutePath"].is_array()) {
      throw ConfigError(where("substitutePath") +
                        " must be a list of {\"from\": <editor path>, \"to\": <path in the "
                        "binary>} objects");
    }
  } catch (const Json::exception& e) {
    throw ConfigError(std::string("launch configuration: ") + e.what());
  }
  static const std::set<std::string> own = {"host",         "identityFile", "knownHostsFile", "sshConfigFile",
                                            "target",       "component",    "manifestDir",    "stateDir",
                                            "program",      "args",         "extraArgs",      "env",
                                            "cwd",          "kubeconfig",   "kubectl",        "nodeName",
                                            "dlvPath",      "dlvFlags",     "connectTimeout", "stopTimeout",
                                            "startTimeout", "dlvTimeout",   "guardKeepalive", "uploadProgram",
                                            "uploadDlv",    "keepUpload",   "debugSafeFlags"};
  for (auto& [key, value] : args.items()) {
    if (own.contains(key) || c.dlv_attach.contains(key)) continue;
    if (std::find(kEditorKeys.begin(), kEditorKeys.end(), key) != kEditorKeys.end()) continue;
    c.warnings.push_back("kdap ignores the unknown launch attribute `" + key + "`");
  }
  return c;
}

}  // namespace kdap::config

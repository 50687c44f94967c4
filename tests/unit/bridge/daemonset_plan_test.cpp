#include "bridge/targets/daemonset_plan.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "bridge/targets/pod_spec.h"
#include "bridge/targets/target.h"

namespace kdap::targets {
namespace {

using json = nlohmann::json;

const std::string kFilesDir = "/var/lib/kdap/daemonset/kube-system/kube-proxy";
const std::string kAdminConf = "/etc/kubernetes/admin.conf";

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json fixture_json(const std::string& name) {
  return json::parse(read(KDAP_FIXTURES_DIR "/daemonset/" + name));
}

// YAML as kubectl prints it, to the JSON the API returns: a quoted scalar ("2298922") stays a string, a
// plain one is typed the way YAML 1.2's core schema types it.
json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) out[item.first.as<std::string>()] = to_json(item.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(to_json(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() == "!") return text;
      if (text == "null" || text == "~" || text.empty()) return nullptr;
      if (text == "true" || text == "false") return text == "true";
      if (std::regex_match(text, std::regex("[-+]?[0-9]+"))) return std::stoll(text);
      if (std::regex_match(text, std::regex("[-+]?([0-9]*\\.[0-9]+|[0-9]+\\.)([eE][-+]?[0-9]+)?"))) {
        return std::stod(text);
      }
      return text;
    }
    default:
      return nullptr;
  }
}

json fixture_yaml(const std::string& name) {
  return to_json(YAML::Load(read(KDAP_FIXTURES_DIR "/daemonset/" + name)));
}

DaemonSetInput kube_proxy_input(const json& ds, const json& cm) {
  DaemonSetInput input;
  input.daemonset = ds;
  input.configmaps["kube-proxy"] = cm;
  input.node_name = "node-1";
  input.kubeconfig = kAdminConf;
  input.files_dir = kFilesDir;
  return input;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

bool any_contains(const std::vector<std::string>& lines, const std::vector<std::string>& parts) {
  for (const auto& line : lines) {
    bool all = true;
    for (const auto& part : parts) all = all && line.find(part) != std::string::npos;
    if (all) return true;
  }
  return false;
}

std::map<std::string, std::string> as_map(const EnvList& env) {
  return {env.begin(), env.end()};
}

void expect_kube_proxy_plan(const DaemonSetPlan& plan, const json& cm) {
  EXPECT_EQ(plan.argv,
            (std::vector<std::string>{
                "/usr/local/bin/kube-proxy",
                "--config=/var/lib/kdap/daemonset/kube-system/kube-proxy/var/lib/kube-proxy/config.conf",
                "--hostname-override=node-1"}));
  EXPECT_EQ(as_map(plan.env), (std::map<std::string, std::string>{{"NODE_NAME", "node-1"}}));
  ASSERT_EQ(plan.files.size(), 1u);
  EXPECT_EQ(plan.files[0].path, kFilesDir + "/var/lib/kube-proxy/config.conf");
  EXPECT_EQ(plan.files[0].mode, "0644");
  const std::string original = cm["data"]["config.conf"];
  ASSERT_NE(original.find("kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n"), std::string::npos);
  EXPECT_EQ(plan.files[0].content, replace_all(original, "kubeconfig: /var/lib/kube-proxy/kubeconfig.conf",
                                               "kubeconfig: /etc/kubernetes/admin.conf"));
  EXPECT_TRUE(any_contains(plan.warnings, {"/var/lib/kube-proxy/kubeconfig.conf", "in-cluster", kAdminConf}))
      << ::testing::PrintToString(plan.warnings);
  // hostPath mounts are the node's own paths: nothing to say about them.
  EXPECT_FALSE(any_contains(plan.warnings, {"xtables"}));
  EXPECT_FALSE(any_contains(plan.warnings, {"lib-modules"}));
  EXPECT_FALSE(plan.cwd);
  EXPECT_NE(plan.summary.find("kube-system/kube-proxy"), std::string::npos) << plan.summary;
  EXPECT_NE(plan.summary.find("node-1"), std::string::npos) << plan.summary;
}

TEST(DaemonSetPlan, KubeProxyOfAKubeadmV13xCluster) {
  const json cm = fixture_json("kube-proxy-cm.json");
  expect_kube_proxy_plan(plan_daemonset(kube_proxy_input(fixture_json("kube-proxy-ds.json"), cm)), cm);
}

TEST(DaemonSetPlan, SeedKubeProxyAsKubectlPrintedItOnV114) {
  const json ds = fixture_yaml("kube-proxy-seed-ds.yaml");
  const json cm = fixture_yaml("kube-proxy-seed-cm.yaml");
  ASSERT_TRUE(ds["metadata"]["resourceVersion"].is_string());
  ASSERT_EQ(ds["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"], 420);
  const auto plan = plan_daemonset(kube_proxy_input(ds, cm));
  expect_kube_proxy_plan(plan, cm);
  // A path-like value under no mount stays as it is.
  EXPECT_NE(plan.files[0].content.find("resourceContainer: /kube-proxy\n"), std::string::npos);
}

TEST(DaemonSetPlan, FollowsTheDefaultContainerAnnotationAndTheRequestedName) {
  json ds = fixture_json("kube-proxy-ds.json");
  json& containers = ds["spec"]["template"]["spec"]["containers"];
  json sidecar = {{"name", "sidecar"}, {"command", json::array({"/sidecar", "--x"})}};
  containers.insert(containers.begin(), sidecar);
  const json cm = fixture_json("kube-proxy-cm.json");
  EXPECT_EQ(plan_daemonset(kube_proxy_input(ds, cm)).argv.front(), "/sidecar");
  ds["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] = "kube-proxy";
  EXPECT_EQ(plan_daemonset(kube_proxy_input(ds, cm)).argv.front(), "/usr/local/bin/kube-proxy");
  auto input = kube_proxy_input(ds, cm);
  input.container = "sidecar";
  EXPECT_EQ(plan_daemonset(input).argv, (std::vector<std::string>{"/sidecar", "--x"}));
}

const char* kAgentDaemonSet = R"json({
  "apiVersion": "apps/v1", "kind": "DaemonSet",
  "metadata": {"name": "agent", "namespace": "monitoring", "generation": 4},
  "spec": {"template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
    "hostNetwork": true,
    "serviceAccountName": "agent-sa",
    "containers": [{
      "name": "agent",
      "command": ["/bin/agent"],
      "args": ["--config=/etc/agent/agent.yaml", "--rules=/etc/agent/rules/alerts.yaml",
               "--certs=/etc/agent/tls/ca.crt", "--extra=/etc/agent-extra/x", "--probe=/etc/probe.yaml",
               "--blob=/etc/agent/bin/blob.bin", "--other=/opt/etc/agent/agent.yaml", "/etc/agent"],
      "workingDir": "/etc/agent",
      "volumeMounts": [
        {"name": "config", "mountPath": "/etc/agent"},
        {"name": "rules", "mountPath": "/etc/agent/rules/"},
        {"name": "tls", "mountPath": "/etc/agent/tls", "readOnly": true},
        {"name": "probe", "mountPath": "/etc/probe.yaml", "subPath": "probe.yaml"}]}],
    "volumes": [
      {"name": "config", "configMap": {"name": "agent-config", "defaultMode": 288, "items": [
        {"key": "agent.yaml", "path": "agent.yaml"},
        {"key": "rules-shadowed", "path": "rules/alerts.yaml"},
        {"key": "blob", "path": "bin/blob.bin", "mode": 384}]}},
      {"name": "rules", "configMap": {"name": "agent-rules"}},
      {"name": "tls", "secret": {"secretName": "agent-tls"}},
      {"name": "probe", "configMap": {"name": "agent-config"}}]}}}})json";

const char* kAgentConfig = R"json({"kind": "ConfigMap", "metadata": {"name": "agent-config"},
  "data": {"agent.yaml": "rules: /etc/agent/rules/alerts.yaml\nprobe: \"/etc/probe.yaml\"\nca: /etc/agent/tls/ca.crt\nlog: /var/log/agent.log\n",
           "rules-shadowed": "hidden by the rules mount\n", "probe.yaml": "port: 8080\n", "unused": "x"},
  "binaryData": {"blob": "AAEvZXRjL2FnZW50"}})json";

DaemonSetInput agent_input() {
  DaemonSetInput input;
  input.daemonset = json::parse(kAgentDaemonSet);
  input.configmaps["agent-config"] = json::parse(kAgentConfig);
  input.configmaps["agent-rules"] = json{{"data", {{"alerts.yaml", "groups: []\n"}}}};
  input.node_name = "node-1";
  input.files_dir = "/var/lib/kdap/daemonset/monitoring/agent/";
  return input;
}

TEST(DaemonSetPlan, MaterialisesItemsSubPathsModesAndBinaryData) {
  const auto plan = plan_daemonset(agent_input());
  const std::string f = "/var/lib/kdap/daemonset/monitoring/agent";
  std::map<std::string, std::pair<std::string, std::string>> files;
  for (const auto& file : plan.files) files[file.path] = {file.content, file.mode};
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {f + "/etc/agent/agent.yaml",
       {"rules: " + f + "/etc/agent/rules/alerts.yaml\nprobe: \"" + f +
            "/etc/probe.yaml\"\nca: /etc/agent/tls/ca.crt\nlog: /var/log/agent.log\n",
        "0440"}},
      {f + "/etc/agent/bin/blob.bin", {std::string("\x00\x01/etc/agent", 12), "0600"}},
      {f + "/etc/agent/rules/alerts.yaml", {"groups: []\n", "0644"}},
      {f + "/etc/probe.yaml", {"port: 8080\n", "0644"}},
  };
  EXPECT_EQ(files, expected);
  EXPECT_EQ(plan.files.size(), expected.size());
  EXPECT_EQ(plan.argv, (std::vector<std::string>{
                           "/bin/agent", "--config=" + f + "/etc/agent/agent.yaml",
                           "--rules=" + f + "/etc/agent/rules/alerts.yaml", "--certs=/etc/agent/tls/ca.crt",
                           "--extra=/etc/agent-extra/x", "--probe=" + f + "/etc/probe.yaml",
                           "--blob=" + f + "/etc/agent/bin/blob.bin", "--other=/opt/etc/agent/agent.yaml",
                           f + "/etc/agent"}));
  EXPECT_EQ(plan.cwd, f + "/etc/agent");
  EXPECT_TRUE(any_contains(plan.warnings,
                           {"tls", "secret agent-tls", "/etc/agent/tls", "--certs=/etc/agent/tls/ca.crt"}))
      << ::testing::PrintToString(plan.warnings);
  EXPECT_EQ(plan.warnings.size(), 1u) << ::testing::PrintToString(plan.warnings);
}

TEST(DaemonSetPlan, SubPathThatNamesNothingIsAnEmptyDirectory) {
  auto input = agent_input();
  input.daemonset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][3]["subPath"] = "nope.yaml";
  const auto plan = plan_daemonset(input);
  for (const auto& file : plan.files)
    EXPECT_EQ(file.path.find("/etc/probe.yaml"), std::string::npos) << file.path;
  EXPECT_TRUE(any_contains(plan.warnings, {"subPath nope.yaml", "agent-config"}))
      << ::testing::PrintToString(plan.warnings);
}

const char* kEnvDaemonSet = R"json({
  "kind": "DaemonSet",
  "metadata": {"name": "agent", "namespace": "monitoring"},
  "spec": {"template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
    "hostNetwork": true,
    "serviceAccountName": "agent-sa",
    "containers": [{
      "name": "agent",
      "command": ["/bin/agent"],
      "args": ["--node=$(NODE)", "--ns=$(NS)", "--ip=$(POD_IP)", "--literal=$$(POD_IP)", "--url=$(URL)",
               "--token=$(TOKEN)", "--unknown=$(NOT_DECLARED)"],
      "envFrom": [{"configMapRef": {"name": "agent-env"}, "prefix": "CFG_"},
                  {"secretRef": {"name": "agent-secret-env"}}],
      "env": [
        {"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "HASH", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['controller-revision-hash']"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "ADDR", "value": "$(POD_IP):$(PORT)"},
        {"name": "PORT", "value": "9100"},
        {"name": "URL", "value": "http://$(NODE):$(PORT)/$(CFG_LEVEL)"},
        {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "agent-env", "key": "LEVEL"}}},
        {"name": "MAYBE", "valueFrom": {"configMapKeyRef": {"name": "agent-env", "key": "nope", "optional": true}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "agent-secret", "key": "token"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
        {"name": "DATA", "value": "/etc/agent/data"}],
      "volumeMounts": [{"name": "config", "mountPath": "/etc/agent"}]}],
    "volumes": [{"name": "config", "configMap": {"name": "agent-config"}}]}}}})json";

DaemonSetInput env_input() {
  DaemonSetInput input;
  input.daemonset = json::parse(kEnvDaemonSet);
  input.configmaps["agent-env"] = json{{"data", {{"LEVEL", "debug"}, {"bad=key", "x"}}}};
  input.configmaps["agent-config"] = json{{"data", {{"agent.yaml", "a: b\n"}}}};
  input.node_name = "node-1";
  input.files_dir = "/var/lib/kdap/ds";
  return input;
}

TEST(DaemonSetPlan, ResolvesEnvLikeTheKubelet) {
  const auto plan = plan_daemonset(env_input());
  const std::map<std::string, std::string> expected = {
      {"CFG_LEVEL", "debug"},
      {"NODE", "node-1"},
      {"NS", "monitoring"},
      {"SA", "agent-sa"},
      {"APP", "agent"},
      // Variables are expanded with the ones declared before; unknown references stay as written.
      {"ADDR", "$(POD_IP):$(PORT)"},
      {"PORT", "9100"},
      {"URL", "http://node-1:9100/debug"},
      {"LEVEL", "debug"},
      {"DATA", "/var/lib/kdap/ds/etc/agent/data"},
  };
  EXPECT_EQ(as_map(plan.env), expected);
  EXPECT_EQ(plan.argv,
            (std::vector<std::string>{"/bin/agent", "--node=node-1", "--ns=monitoring", "--ip=$(POD_IP)",
                                      "--literal=$(POD_IP)", "--url=http://node-1:9100/debug",
                                      "--token=$(TOKEN)", "--unknown=$(NOT_DECLARED)"}));
  const auto& w = plan.warnings;
  EXPECT_TRUE(any_contains(w, {"POD_IP", "status.podIP", "`env`"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"HASH", "controller-revision-hash"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"TOKEN", "secretKeyRef agent-secret/token"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"MEM", "limits.memory"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"secretRef agent-secret-env"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"bad=key", "agent-env"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"argument --ip=$(POD_IP)"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"argument --token=$(TOKEN)"})) << ::testing::PrintToString(w);
  EXPECT_FALSE(any_contains(w, {"argument --literal"})) << ::testing::PrintToString(w);
  EXPECT_FALSE(any_contains(w, {"MAYBE"})) << ::testing::PrintToString(w);
}

TEST(DaemonSetPlan, ThePodResolvesWhatOnlyThePodKnows) {
  auto input = env_input();
  input.pod = json::parse(R"json({"metadata": {"name": "agent-x7k2p",
      "labels": {"app": "agent", "controller-revision-hash": "6d4b9c"}},
      "status": {"podIP": "10.0.0.5", "hostIP": "10.0.0.5"}})json");
  const auto plan = plan_daemonset(input);
  const auto env = as_map(plan.env);
  EXPECT_EQ(env.at("POD_IP"), "10.0.0.5");
  EXPECT_EQ(env.at("HASH"), "6d4b9c");
  EXPECT_EQ(env.at("ADDR"), "10.0.0.5:$(PORT)");
  EXPECT_EQ(plan.argv[3], "--ip=10.0.0.5");
  EXPECT_FALSE(any_contains(plan.warnings, {"POD_IP"})) << ::testing::PrintToString(plan.warnings);
}

TEST(DaemonSetPlan, ListsTheConfigMapsToFetch) {
  EXPECT_EQ(referenced_configmaps(json::parse(kEnvDaemonSet), std::nullopt),
            (std::vector<std::string>{"agent-config", "agent-env"}));
  EXPECT_EQ(referenced_configmaps(json::parse(kAgentDaemonSet), std::nullopt),
            (std::vector<std::string>{"agent-config", "agent-rules"}));
  EXPECT_EQ(referenced_configmaps(fixture_json("kube-proxy-ds.json"), std::nullopt),
            std::vector<std::string>{"kube-proxy"});
}

TEST(DaemonSetPlan, WarnsAboutVolumesItDoesNotReproduce) {
  json ds = json::parse(R"json({"kind": "DaemonSet", "metadata": {"name": "cni", "namespace": "kube-system"},
    "spec": {"template": {"spec": {
      "containers": [{"name": "cni", "command": ["/cni", "--token=/var/run/secrets/tokens/t", "--scratch=/scratch"],
        "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets/tokens"},
                         {"name": "info", "mountPath": "/etc/podinfo"},
                         {"name": "scratch", "mountPath": "/scratch"},
                         {"name": "cfg", "mountPath": "/etc/cni-cfg"}]}],
      "volumes": [
        {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}},
                                                    {"configMap": {"name": "kube-root-ca.crt"}}]}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "cni-cfg", "optional": true}}]}}}})json");
  DaemonSetInput input;
  input.daemonset = ds;
  input.node_name = "node-1";
  input.files_dir = "/var/lib/kdap/ds/cni";
  const auto plan = plan_daemonset(input);
  const auto& w = plan.warnings;
  EXPECT_TRUE(any_contains(
      w, {"volume token", "serviceAccountToken", "kube-root-ca.crt", "--token=/var/run/secrets/tokens/t"}))
      << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"volume info", "downwardAPI", "/etc/podinfo"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"volume scratch", "emptyDir", "--scratch=/scratch"}))
      << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"optional ConfigMap cni-cfg"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(any_contains(w, {"host network"})) << ::testing::PrintToString(w);
  EXPECT_TRUE(plan.files.empty());
  EXPECT_EQ(plan.argv[1], "--token=/var/run/secrets/tokens/t");
}

void expect_error(const DaemonSetInput& input, const std::string& part) {
  try {
    plan_daemonset(input);
    ADD_FAILURE() << "expected an error containing: " << part;
  } catch (const TargetError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(DaemonSetPlan, ErrorsNameTheFix) {
  const json ds = fixture_json("kube-proxy-ds.json");
  const json cm = fixture_json("kube-proxy-cm.json");
  auto input = kube_proxy_input(ds, cm);
  input.container = "nope";
  expect_error(input, "no container 'nope'; its containers: kube-proxy");

  input = kube_proxy_input(ds, cm);
  input.daemonset["spec"]["template"]["spec"]["initContainers"] = json::array({{{"name", "init"}}});
  input.container = "init";
  expect_error(input, "'init' is an init container");

  input = kube_proxy_input(ds, cm);
  input.configmaps.clear();
  expect_error(input, "`kubectl get configmap kube-proxy -n kube-system -o json`");

  input = kube_proxy_input(ds, cm);
  input.daemonset["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"] =
      json::array({{{"key", "absent.conf"}, {"path", "absent.conf"}}});
  expect_error(input, "lists key absent.conf of ConfigMap kube-proxy, which has no such key");

  input = kube_proxy_input(ds, cm);
  input.daemonset["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"] =
      json::array({{{"key", "config.conf"}, {"path", "../../../etc/cron.d/x"}}});
  expect_error(input, "must be a relative path without '..'");

  input = kube_proxy_input(ds, cm);
  input.daemonset["spec"]["template"]["spec"]["containers"][0].erase("command");
  input.daemonset["spec"]["template"]["spec"]["containers"][0]["args"] = json::array({"--v=2"});
  expect_error(input, "Set `program` and `args`");

  input = kube_proxy_input(ds, cm);
  input.daemonset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"].push_back(
      {{"name", "ghost"}, {"mountPath", "/ghost"}});
  expect_error(input, "mounts volume ghost");

  input = kube_proxy_input(ds, cm);
  input.daemonset["kind"] = "Deployment";
  expect_error(input, "expected a DaemonSet, got a Deployment");

  input = kube_proxy_input(ds, cm);
  input.node_name = "";
  expect_error(input, "`kubectl get nodes`");

  input = kube_proxy_input(ds, cm);
  input.files_dir = "relative/dir";
  expect_error(input, "must be an absolute directory");
}

TEST(PodSpecJson, ReadsAContainerAsWritten) {
  const json ds = fixture_json("kube-proxy-ds.json");
  const auto c =
      parse_pod_container(ds["spec"]["template"]["spec"], std::nullopt, "ds", "spec.template.spec");
  EXPECT_EQ(c.container_name, "kube-proxy");
  EXPECT_EQ(c.command.back(), "--hostname-override=$(NODE_NAME)");
  ASSERT_EQ(c.env_entries.size(), 1u);
  EXPECT_EQ(c.env_entries[0].source, "fieldRef");
  EXPECT_EQ(c.env_entries[0].source_name, "spec.nodeName");
  EXPECT_EQ(c.env_from_refs, std::vector<std::string>{"NODE_NAME"});
  ASSERT_EQ(c.volume_mounts.size(), 3u);
  EXPECT_EQ(c.volume_mounts[2].mount_path, "/lib/modules");
  EXPECT_TRUE(c.volume_mounts[2].read_only);
  EXPECT_FALSE(c.volume_mounts[0].read_only);
  json bad = ds["spec"]["template"]["spec"];
  bad["containers"][0]["command"] = "not a list";
  try {
    parse_pod_container(bad, std::nullopt, "daemonset x/y", "spec.template.spec");
    ADD_FAILURE() << "expected an error";
  } catch (const TargetError& e) {
    EXPECT_EQ(std::string(e.what()),
              "daemonset x/y: spec.template.spec.containers[0].command must be a list of strings");
  }
}

// ---- parking ----

// Whether the DaemonSet controller would run a pod on a node with these labels: nodeSelector and the
// required node affinity (terms ORed, requirements ANDed, an empty term matching nothing), as
// component-helpers' nodeaffinity evaluates them. Taints are left out: parking does not touch them.
bool runs_on(const json& ds, const std::string& node, const std::map<std::string, std::string>& labels) {
  const json& spec = ds["spec"]["template"]["spec"];
  const json node_selector = spec.value("nodeSelector", json::object());
  for (const auto& [key, value] : node_selector.items()) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  const json selector = spec.value(
      "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution"_json_pointer, json());
  if (selector.is_null()) return true;
  auto requirement_holds = [](const json& r, const std::map<std::string, std::string>& values) {
    const std::string op = r["operator"];
    auto it = values.find(r["key"]);
    const bool has = it != values.end();
    const json vals = r.value("values", json::array());
    const bool in = has && std::find(vals.begin(), vals.end(), json(it->second)) != vals.end();
    if (op == "In") return in;
    if (op == "NotIn") return !in;
    if (op == "Exists") return has;
    if (op == "DoesNotExist") return !has;
    ADD_FAILURE() << "operator " << op << " not modelled";
    return false;
  };
  for (const auto& term : selector["nodeSelectorTerms"]) {
    const json expressions = term.value("matchExpressions", json::array());
    const json fields = term.value("matchFields", json::array());
    if (expressions.empty() && fields.empty()) continue;
    bool all = true;
    for (const auto& r : expressions) all = all && requirement_holds(r, labels);
    for (const auto& r : fields) all = all && requirement_holds(r, {{"metadata.name", node}});
    if (all) return true;
  }
  return false;
}

const std::map<std::string, std::map<std::string, std::string>> kNodes = {
    {"node-1",
     {{"kubernetes.io/os", "linux"}, {"beta.kubernetes.io/os", "linux"}, {"role", "worker"}, {"zone", "a"}}},
    {"node-2",
     {{"kubernetes.io/os", "linux"}, {"beta.kubernetes.io/os", "linux"}, {"role", "worker"}, {"zone", "b"}}},
    {"node-3", {{"kubernetes.io/os", "linux"}, {"beta.kubernetes.io/os", "linux"}, {"zone", "c"}}},
    {"node-9", {{"kubernetes.io/os", "linux"}, {"beta.kubernetes.io/os", "linux"}, {"zone", "a"}}},
    {"win-1", {{"kubernetes.io/os", "windows"}, {"beta.kubernetes.io/os", "windows"}, {"role", "worker"}}},
};

struct Variant {
  std::string name;
  json ds;
};

std::vector<Variant> variants() {
  const json modern = fixture_json("kube-proxy-ds.json");
  std::vector<Variant> out;
  out.push_back({"kubeadm v1.3x: no affinity, RollingUpdate with maxUnavailable and maxSurge", modern});
  out.push_back({"seed v1.14: no affinity, RollingUpdate with maxUnavailable",
                 fixture_yaml("kube-proxy-seed-ds.yaml")});
  json v = modern;
  v["spec"].erase("updateStrategy");
  out.push_back({"no affinity, updateStrategy absent", v});
  v = modern;
  v["spec"]["updateStrategy"] = json{{"type", "OnDelete"}};
  out.push_back({"already OnDelete", v});
  v = modern;
  v["spec"]["template"]["spec"]["affinity"] = json::parse(R"json({
    "nodeAffinity": {
      "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "role", "operator": "In", "values": ["worker"]}]},
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "c"]}],
         "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-9"]}]},
        {}]},
      "preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]},
    "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
      {"labelSelector": {"matchLabels": {"k8s-app": "other"}}, "topologyKey": "kubernetes.io/hostname"}]}})json");
  out.push_back({"nodeAffinity with several terms, one empty, preferred terms and podAntiAffinity", v});
  v = modern;
  v["spec"]["template"]["spec"]["affinity"] = json::parse(R"json({"podAntiAffinity": {
    "requiredDuringSchedulingIgnoredDuringExecution": [
      {"labelSelector": {"matchLabels": {"k8s-app": "other"}}, "topologyKey": "kubernetes.io/hostname"}]}})json");
  out.push_back({"podAntiAffinity only", v});
  v = modern;
  v["spec"]["template"]["spec"]["affinity"] = json::parse(R"json({"nodeAffinity": {
    "preferredDuringSchedulingIgnoredDuringExecution": [
      {"weight": 1, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}}]}})json");
  out.push_back({"nodeAffinity with preferred terms only", v});
  return out;
}

TEST(DaemonSetPark, KeepsTheDaemonSetOffThisNodeOnly) {
  for (const auto& [name, ds] : variants()) {
    SCOPED_TRACE(name);
    const json parked = ds.patch(park_patch(ds, "node-1"));
    ASSERT_TRUE(runs_on(ds, "node-1", kNodes.at("node-1")));
    EXPECT_FALSE(runs_on(parked, "node-1", kNodes.at("node-1")));
    for (const auto& [node, labels] : kNodes) {
      if (node != "node-1") {
        EXPECT_EQ(runs_on(parked, node, labels), runs_on(ds, node, labels)) << node;
      }
    }
    EXPECT_EQ(parked["spec"]["updateStrategy"], json({{"type", "OnDelete"}}));
    EXPECT_EQ(parked["metadata"]["annotations"][kParkedOnAnnotation], "node-1");
    // Nothing else in the spec moves: no nodeSelector, no tolerations, no other affinity.
    json before = ds["spec"];
    json after = parked["spec"];
    for (json* spec : {&before, &after}) {
      spec->erase("updateStrategy");
      json& affinity = (*spec)["template"]["spec"]["affinity"];
      if (affinity.contains("nodeAffinity"))
        affinity["nodeAffinity"].erase("requiredDuringSchedulingIgnoredDuringExecution");
      if (affinity.contains("nodeAffinity") && affinity["nodeAffinity"].empty())
        affinity.erase("nodeAffinity");
      if (affinity.empty()) (*spec)["template"]["spec"].erase("affinity");
    }
    EXPECT_EQ(after, before);
  }
}

TEST(DaemonSetPark, AnEmptyTermStaysEmpty) {
  const auto all = variants();
  const json& ds = all[4].ds;
  const json parked = ds.patch(park_patch(ds, "node-1"));
  const json& terms = parked["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
                            ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
  ASSERT_EQ(terms.size(), 3u);
  EXPECT_EQ(terms[2], json::object());
  EXPECT_EQ(terms[1]["matchFields"].size(), 2u);
}

TEST(DaemonSetPark, RestoreGivesBackTheOriginalSpec) {
  for (const auto& [name, ds] : variants()) {
    SCOPED_TRACE(name);
    const json parked = ds.patch(park_patch(ds, "node-1"));
    ASSERT_NE(canonical_spec(parked), canonical_spec(ds));
    for (const json& patch : {restore_patch(ds, "node-1"), restore_patch(ds)}) {
      const json restored = parked.patch(patch);
      EXPECT_EQ(canonical_spec(restored), canonical_spec(ds));
      EXPECT_EQ(restored["spec"], ds["spec"]);
      EXPECT_FALSE(restored["metadata"].value("annotations", json::object()).contains(kParkedOnAnnotation));
      if (ds["metadata"].contains("annotations")) {
        EXPECT_EQ(restored["metadata"], ds["metadata"]);
      }
    }
  }
}

TEST(DaemonSetPark, ParkFailsOnASpecChangedSinceItWasRead) {
  const json ds = fixture_json("kube-proxy-ds.json");
  const json patch = park_patch(ds, "node-1");
  json changed = ds;
  changed["metadata"]["generation"] = 2;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.k8s.io/kube-proxy:v1.31.1";
  EXPECT_THROW(changed.patch(patch), json::exception);
  EXPECT_NO_THROW(ds.patch(patch));
}

TEST(DaemonSetPark, RestoreLeavesFieldsOthersChangedMeanwhile) {
  const json ds = fixture_json("kube-proxy-ds.json");
  json parked = ds.patch(park_patch(ds, "node-1"));
  const json restore = restore_patch(ds, "node-1");

  json image_changed = parked;
  image_changed["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.k8s.io/kube-proxy:v1.31.1";
  const json restored = image_changed.patch(restore);
  EXPECT_EQ(restored["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.k8s.io/kube-proxy:v1.31.1");
  EXPECT_EQ(restored["spec"]["updateStrategy"], ds["spec"]["updateStrategy"]);
  EXPECT_FALSE(restored["spec"]["template"]["spec"].contains("affinity"));

  json strategy_changed = parked;
  strategy_changed["spec"]["updateStrategy"] = ds["spec"]["updateStrategy"];
  EXPECT_THROW(strategy_changed.patch(restore), json::exception);

  json affinity_changed = parked;
  affinity_changed["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
                  ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]
                  ["values"] = json::array({"node-2"});
  EXPECT_THROW(affinity_changed.patch(restore), json::exception);

  // Restoring twice fails the second time instead of removing what is not there.
  EXPECT_THROW(restored.patch(restore), json::exception);
  EXPECT_THROW(restored.patch(restore_patch(ds)), json::exception);
}

TEST(DaemonSetPark, RefusesADaemonSetAlreadyParked) {
  const json ds = fixture_json("kube-proxy-ds.json");
  const json parked = ds.patch(park_patch(ds, "node-1"));
  try {
    park_patch(parked, "node-2");
    ADD_FAILURE() << "expected an error";
  } catch (const TargetError& e) {
    EXPECT_NE(std::string(e.what()).find("already parked on node node-1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("`kdap restore` on node-1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(park_patch(ds, ""), TargetError);
  EXPECT_THROW(park_patch(json::object({{"kind", "DaemonSet"}}), "node-1"), TargetError);
}

TEST(DaemonSetPark, CanonicalSpecIgnoresKeyOrderAndTemplateGenerationOnly) {
  const json a = json::parse(R"({"spec": {"b": 1, "a": {"y": [1, 2], "x": "s"}, "templateGeneration": 1}})");
  const json b = json::parse(
      R"({"metadata": {"name": "z"}, "spec": {"a": {"x": "s", "y": [1, 2]}, "b": 1, "templateGeneration": 3}})");
  EXPECT_EQ(canonical_spec(a), canonical_spec(b));
  EXPECT_EQ(canonical_spec(a), R"({"a":{"x":"s","y":[1,2]},"b":1})");
  json c = b;
  c["spec"]["a"]["y"] = json::array({2, 1});
  EXPECT_NE(canonical_spec(a), canonical_spec(c));
}

}  // namespace
}  // namespace kdap::targets

#pragma once
// Planning a DaemonSet component without touching anything: what its container runs on this node (argv,
// env, the ConfigMap files it reads), and the JSON patches that keep the DaemonSet off this node only and put
// it back. The DaemonSet target runs kubectl, writes the files and applies the patches; this module does no
// I/O, so every decision in it can be tested against `kubectl get -o json` output.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kdap::targets {

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct DaemonSetInput {
  nlohmann::json daemonset;  // kubectl get ds NAME -n NS -o json
  // name -> kubectl get cm NAME -n NS -o json, for every ConfigMap that referenced_configmaps() lists. An
  // optional one (optional: true) that does not exist in the cluster is left out.
  std::map<std::string, nlohmann::json> configmaps;
  std::string node_name;  // this node's Kubernetes name
  // The kubeconfig the debugged process uses instead of the pod's in-cluster service account.
  std::string kubeconfig = "/etc/kubernetes/admin.conf";
  // Where kdap materialises the mounted files on the node; a mount path P becomes files_dir + P.
  std::string files_dir;
  std::optional<std::string> container;  // default: the template's kubectl.kubernetes.io/default-container
                                         // annotation, else the first container
  // The DaemonSet's pod on this node (kubectl get pod -o json), when the target has it: fieldRefs that only
  // a running pod knows (metadata.name, metadata.uid, status.podIP, status.hostIP, ...) resolve from it.
  nlohmann::json pod;
};

struct MaterialisedFile {
  std::string path;     // absolute path on the node, under files_dir
  std::string content;  // bytes to write (binaryData is decoded)
  std::string mode;     // octal, e.g. "0644"
};

struct DaemonSetPlan {
  // command + args, $(VAR) expanded from the resolved env, references to mounted ConfigMap files rewritten to
  // the materialised files (and to `kubeconfig` for an in-cluster kubeconfig).
  std::vector<std::string> argv;
  EnvList env;                     // resolved env, references rewritten like argv
  std::optional<std::string> cwd;  // workingDir, rewritten like argv
  std::vector<MaterialisedFile> files;
  std::vector<std::string> warnings;  // what kdap could not reproduce, each naming the fix where there is one
  std::string summary;                // one line for the console
};

// Throws TargetError with a message that names the fix (no such container, a ConfigMap missing from the
// input, a key the volume lists but the ConfigMap lacks, no command, ...).
DaemonSetPlan plan_daemonset(const DaemonSetInput& input);

// The ConfigMaps the chosen container needs (volumes it mounts, configMapKeyRef, envFrom configMapRef), in
// the order first referenced: what the target fetches before calling plan_daemonset.
std::vector<std::string> referenced_configmaps(const nlohmann::json& daemonset,
                                               const std::optional<std::string>& container);

// The annotation park_patch sets on the DaemonSet, naming the parked node, so that `kubectl get ds` shows
// why the DaemonSet looks changed and a second park (another node, or a session that never restored) is
// refused instead of stacking on top of the first.
inline constexpr const char* kParkedOnAnnotation = "kdap/parked-on-node";

// The JSON patch (RFC 6902, for `kubectl patch --type=json`) that keeps the DaemonSet off this node only.
// It starts with a `test` of metadata.generation (when the object has one), so it fails rather than
// applies to a DaemonSet whose spec changed since `daemonset` was read: read it again and retry. Throws
// TargetError when the DaemonSet is already parked (kParkedOnAnnotation).
nlohmann::json park_patch(const nlohmann::json& daemonset, const std::string& node_name);

// The patch that puts back exactly what park_patch(original_daemonset, node_name) changed. Its `test` ops
// make it fail, changing nothing, if someone else changed the same fields meanwhile.
nlohmann::json restore_patch(const nlohmann::json& original_daemonset, const std::string& node_name);
// The same without the node name, so without the `test` of the parked affinity (which names the node): it
// still fails unless the DaemonSet is parked and set to OnDelete. Prefer the form above.
nlohmann::json restore_patch(const nlohmann::json& original_daemonset);

// The DaemonSet's spec serialised with sorted keys, without spec.templateGeneration: the API server bumps
// that counter on every template change, so park + restore moves it by two although the template is back as
// it was (extensions/v1beta1 shows it in the spec; apps/v1 moves it to the deprecated.daemonset.template.
// generation annotation, outside the spec). Equal before park and after restore when the restore was exact.
std::string canonical_spec(const nlohmann::json& daemonset);

}  // namespace kdap::targets

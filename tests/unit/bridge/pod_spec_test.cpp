#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bridge/targets/pod_spec.h"
#include "bridge/targets/target.h"

namespace kdap::targets {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PodSpec, ReadsTheKubeadmApiserverManifestOfTheSeed) {
  auto spec =
      parse_static_pod(read(KDAP_FIXTURES_DIR "/manifests/kube-apiserver.yaml"), "kube-apiserver.yaml");
  EXPECT_EQ(spec.pod_name, "kube-apiserver");
  ASSERT_EQ(spec.command.size(), 29u);
  EXPECT_EQ(spec.command.front(), "kube-apiserver");
  EXPECT_EQ(spec.command[1], "--advertise-address=1.2.3.4");
  EXPECT_EQ(spec.command.back(), "--token-auth-file=/etc/kubernetes/known_tokens.csv");
  EXPECT_TRUE(spec.args.empty());
}

TEST(PodSpec, CommandArgsEnvAndWorkingDir) {
  auto spec = parse_static_pod(R"yaml(apiVersion: v1
kind: Pod
metadata: {name: c}
spec:
  containers:
  - name: c
    command: ["/usr/local/bin/c", "--node=$(NODE_NAME)"]
    args: ["--v=2", "--literal=$$(NODE_NAME)", "--unknown=$(NOPE)"]
    env:
    - {name: NODE_NAME, value: node-1}
    - name: FROM_FIELD
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    workingDir: /var/lib/c
)yaml",
                               "c.yaml");
  EXPECT_EQ(spec.command, (std::vector<std::string>{"/usr/local/bin/c", "--node=node-1"}));
  EXPECT_EQ(spec.args, (std::vector<std::string>{"--v=2", "--literal=$(NODE_NAME)", "--unknown=$(NOPE)"}));
  ASSERT_EQ(spec.env.size(), 1u);
  EXPECT_EQ(spec.env_from_refs, std::vector<std::string>{"FROM_FIELD"});
  EXPECT_EQ(spec.working_dir, "/var/lib/c");
}

TEST(PodSpec, MalformedYamlNamesTheLine) {
  try {
    parse_static_pod("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: [a\n", "bad.yaml");
    FAIL() << "expected an error";
  } catch (const TargetError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml is not valid YAML"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << e.what();
  }
}

TEST(PodSpec, RejectsWhatIsNotARunnablePod) {
  EXPECT_THROW(parse_static_pod("kind: Deployment\n", "d.yaml"), TargetError);
  EXPECT_THROW(parse_static_pod("kind: Pod\nspec: {containers: []}\n", "p.yaml"), TargetError);
  EXPECT_THROW(parse_static_pod("kind: Pod\nspec: {containers: [{name: x, image: y}]}\n", "p.yaml"),
               TargetError);
  EXPECT_THROW(parse_static_pod("kind: Pod\nspec: {containers: [{command: {a: b}}]}\n", "p.yaml"),
               TargetError);
}

TEST(K8sVars, ExpansionFollowsKubernetes) {
  std::vector<std::pair<std::string, std::string>> env = {{"A", "1"}, {"B", "two"}};
  EXPECT_EQ(expand_k8s_vars("$(A)-$(B)", env), "1-two");
  EXPECT_EQ(expand_k8s_vars("$$(A)", env), "$(A)");
  EXPECT_EQ(expand_k8s_vars("$(C)", env), "$(C)");
  EXPECT_EQ(expand_k8s_vars("$(A", env), "$(A");
  EXPECT_EQ(expand_k8s_vars("cost $5", env), "cost $5");
  EXPECT_EQ(expand_k8s_vars("end$", env), "end$");
}

}  // namespace
}  // namespace kdap::targets

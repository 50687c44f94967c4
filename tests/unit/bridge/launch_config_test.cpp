#include <gtest/gtest.h>

#include "bridge/config/launch_config.h"

namespace kdap::config {
namespace {

std::string error_of(const Json& args) {
  try {
    parse_launch_config(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(LaunchConfig, FullConfiguration) {
  auto c = parse_launch_config(Json::parse(R"({
    "type": "kdap", "request": "launch", "name": "scheduler",
    "host": "root@node-1:2222", "identityFile": "~/.ssh/id_ed25519", "target": "static-pod/kube-scheduler",
    "manifestDir": "/etc/kubernetes/manifests", "program": "/opt/debug/kube-scheduler",
    "extraArgs": ["--v=4"], "env": {"GODEBUG": "x=1"}, "cwd": "/", "dlvPath": "/usr/local/bin/dlv",
    "dlvFlags": ["--log"], "substitutePath": [{"from": "/src", "to": "/go/src"}], "stopOnEntry": false,
    "hideSystemGoroutines": true, "someTypo": 1})"));
  EXPECT_EQ(c.host, "root@node-1:2222");
  EXPECT_EQ(c.target.kind, TargetKind::kStaticPod);
  EXPECT_EQ(c.target.name, "kube-scheduler");
  EXPECT_EQ(c.program, "/opt/debug/kube-scheduler");
  EXPECT_EQ(c.env.at(0), (std::pair<std::string, std::string>{"GODEBUG", "x=1"}));
  EXPECT_EQ(c.dlv_attach["substitutePath"][0]["to"], "/go/src");
  EXPECT_EQ(c.dlv_attach["hideSystemGoroutines"], true);
  EXPECT_FALSE(c.dlv_attach.contains("host"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("someTypo"), std::string::npos);
}

TEST(LaunchConfig, ErrorsNameTheAttributeAndTheFix) {
  EXPECT_NE(error_of(Json::object()).find("`target` is missing"), std::string::npos);
  auto unknown = error_of({{"target", "deployment/x"}});
  EXPECT_NE(unknown.find("unknown kind 'deployment'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("static-pod/<name>, systemd/<unit>"), std::string::npos) << unknown;
  EXPECT_NE(error_of({{"target", "static-pod/"}}).find("names no component"), std::string::npos);
  EXPECT_NE(error_of({{"target", "static-pod/../../etc/passwd"}}).find("manifest's file name"),
            std::string::npos);
  EXPECT_NE(error_of({{"target", "static-pod/a"}, {"args", "--x"}}).find("`args` must be a list"),
            std::string::npos);
  EXPECT_NE(error_of({{"target", "static-pod/a"}, {"extraArgs", {1}}}).find("`extraArgs`[0]"),
            std::string::npos);
  EXPECT_NE(error_of({{"target", "static-pod/a"}, {"manifestDir", "rel"}}).find("absolute"),
            std::string::npos);
  EXPECT_NE(error_of({{"target", "static-pod/a"}, {"host", 5}}).find("`host` must be a string"),
            std::string::npos);
  auto listen = error_of({{"target", "static-pod/a"}, {"dlvFlags", {"--listen=0.0.0.0:2345"}}});
  EXPECT_NE(listen.find("loopback"), std::string::npos) << listen;
  EXPECT_NE(error_of({{"target", "static-pod/a"}, {"stopTimeout", -1}}).find("seconds"), std::string::npos);
}

TEST(LaunchConfig, ExtraArgsReplaceFlagsAlreadyPresent) {
  std::vector<std::string> base = {"--v=2", "--leader-elect=true", "--feature", "positional"};
  auto merged = merge_args(base, {"--v=5", "--feature=false", "--new=1", "other"});
  EXPECT_EQ(merged, (std::vector<std::string>{"--v=5", "--leader-elect=true", "--feature=false", "positional",
                                              "--new=1", "other"}));
}

TEST(LaunchConfig, KnownKindsParse) {
  EXPECT_EQ(parse_target("exec").kind, TargetKind::kExec);
  EXPECT_EQ(parse_target("systemd/kubelet").kind, TargetKind::kSystemd);
  EXPECT_EQ(parse_target("daemonset/kube-system/kube-proxy").name, "kube-system/kube-proxy");
  EXPECT_EQ(parse_target("pid/42").kind, TargetKind::kPid);
}

}  // namespace
}  // namespace kdap::config

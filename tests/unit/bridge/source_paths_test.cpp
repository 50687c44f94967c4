#include "bridge/inspect/source_paths.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "bridge/inspect/program_probe.h"
#include "bridge/node/local_node.h"
#include "bridge/node/shell.h"
#include "tests/unit/bridge/temp_files.h"

namespace kdap::inspect {
namespace {

namespace fs = std::filesystem;
using kdap::testing::TempDir;
using kdap::testing::write_file;

#ifdef KDAP_SRCMAP_DEBUG
#define REQUIRE_GO_BINARIES()
const std::string kDebug = KDAP_SRCMAP_DEBUG;
const std::string kTrimpath = KDAP_SRCMAP_TRIMPATH;
const std::string kRootMain = KDAP_SRCMAP_ROOTMAIN;
const std::string kTree = KDAP_SRCMAP_TREE;
const std::string kGoEnvFile = KDAP_SRCMAP_GOENV;
const std::string kGo = KDAP_SRCMAP_GO;
#else
#define REQUIRE_GO_BINARIES() GTEST_SKIP() << "go was not found when the build was configured"
const std::string kDebug, kTrimpath, kRootMain, kTree, kGoEnvFile, kGo;
#endif

// ---------------------------------------------------------------------------------------------------------
// dlv's rule (locspec.SubstitutePath, POSIX paths), to check rules by what dlv will do with them rather than
// by their spelling.

bool has_separator_suffix(const std::string& p) {
  return !p.empty() && (p.back() == '/' || p.back() == '\\');
}
bool has_separator_prefix(const std::string& p) {
  return !p.empty() && (p[0] == '/' || p[0] == '\\');
}

std::string dlv_join(const std::string& to, std::string rest) {
  char sep = 0;
  bool mixed = false;
  for (char c : to) {
    if (c == '/' || c == '\\') {
      if (sep == 0) sep = c;
      if (sep != c) mixed = true;
    }
  }
  if (mixed || sep == 0) sep = '/';
  for (auto& c : rest) {
    if (c == '/' || c == '\\') c = sep;
  }
  if (has_separator_suffix(to) && has_separator_prefix(rest)) return to.substr(0, to.size() - 1) + rest;
  if (has_separator_suffix(to) || has_separator_prefix(rest)) return to + rest;
  return to + sep + rest;
}

std::string dlv_substitute(const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& rules) {
  for (const auto& [from, to] : rules) {
    if (path == from) return to;
    bool match = false;
    std::string rest;
    if (from.empty()) {
      match = !has_separator_prefix(path);
      rest = path;
    } else if (path.starts_with(from)) {
      rest = path.substr(from.size());
      match = has_separator_suffix(from) || has_separator_prefix(rest);
    }
    if (!match) continue;
    if (to.empty()) return has_separator_prefix(rest) ? rest.substr(1) : rest;
    return dlv_join(to, rest);
  }
  return path;
}

std::string to_binary(const std::string& editor_path, const std::vector<PathMapping>& mappings) {
  std::vector<std::pair<std::string, std::string>> rules;
  for (const auto& m : mappings) rules.emplace_back(m.from, m.to);
  return dlv_substitute(editor_path, rules);
}

std::string to_editor(const std::string& binary_path, const std::vector<PathMapping>& mappings) {
  std::vector<std::pair<std::string, std::string>> rules;
  for (const auto& m : mappings) rules.emplace_back(m.to, m.from);
  return dlv_substitute(binary_path, rules);
}

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

// ---------------------------------------------------------------------------------------------------------

GoModule module(std::string path, std::string version, std::string replace_path = "",
                std::string replace_version = "") {
  GoModule m;
  m.path = std::move(path);
  m.version = std::move(version);
  m.replace_path = std::move(replace_path);
  m.replace_version = std::move(replace_version);
  return m;
}

GoBuildInfo build_info(std::string main_package, GoModule main_module, std::vector<GoModule> deps = {},
                       bool trimpath = false) {
  GoBuildInfo info;
  info.go_version = "go1.26.8";
  info.main_package = std::move(main_package);
  info.main_module = std::move(main_module);
  info.dependencies = std::move(deps);
  if (trimpath) info.settings["-trimpath"] = "true";
  return info;
}

GoBuildInfo kube_scheduler(std::vector<GoModule> deps = {}, bool trimpath = false) {
  return build_info("k8s.io/kubernetes/cmd/kube-scheduler", module("k8s.io/kubernetes", "(devel)"),
                    std::move(deps), trimpath);
}

LocalPaths editor_machine() {
  return {"/home/dev/kubernetes", "/home/dev/go/pkg/mod", "/home/dev/sdk/go1.26.8"};
}

bool mentions(const std::vector<std::string>& evidence, const std::string& text) {
  for (const auto& e : evidence) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(SourcePathsParse, GopathKubernetesSkipsAVendoredNamesake) {
  const auto info = kube_scheduler();
  const auto layout = parse_source_layout(
      "@goroot /usr/local/go/src/runtime/proc.go\n"
      "@main /go/src/k8s.io/kubernetes/vendor/example.com/tool/cmd/kube-scheduler/tool.go\n"
      "@main /go/src/k8s.io/kubernetes/cmd/kube-scheduler/scheduler.go\n"
      "@end\n",
      info);
  EXPECT_EQ(layout.build_root, "/go/src/k8s.io/kubernetes");
  EXPECT_EQ(layout.goroot, "/usr/local/go");
  EXPECT_EQ(layout.module_cache, "");  // vendored: no file in a module cache
  EXPECT_FALSE(layout.trimpath);
  EXPECT_EQ(layout.module_path, "k8s.io/kubernetes");
  EXPECT_TRUE(mentions(layout.evidence, "/go/src/k8s.io/kubernetes/cmd/kube-scheduler/scheduler.go"));

  const auto rules = automatic_substitute_path(layout, editor_machine());
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].from, "/home/dev/kubernetes");
  EXPECT_EQ(rules[0].to, "/go/src/k8s.io/kubernetes");
  EXPECT_EQ(rules[1].from, "/home/dev/sdk/go1.26.8");
  EXPECT_EQ(rules[1].to, "/usr/local/go");
  EXPECT_EQ(to_binary("/home/dev/kubernetes/vendor/k8s.io/klog/v2/klog.go", rules),
            "/go/src/k8s.io/kubernetes/vendor/k8s.io/klog/v2/klog.go");
  EXPECT_EQ(to_editor("/usr/local/go/src/runtime/proc.go", rules),
            "/home/dev/sdk/go1.26.8/src/runtime/proc.go");
}

TEST(SourcePathsParse, DockerizedBuildWithAModuleCache) {
  const std::string root = "/go/src/k8s.io/kubernetes/_output/dockerized/go/src/k8s.io/kubernetes";
  const std::string cache = "/go/src/k8s.io/kubernetes/_output/dockerized/go/pkg/mod";
  const auto info =
      kube_scheduler({module("github.com/Azure/go-ansiterm", "v0.0.0-20230124172434-306776ec8161"),
                      module("github.com/spf13/cobra", "v1.9.1")});
  const auto layout = parse_source_layout(
      "@goroot /usr/local/go/src/runtime/proc.go\n"
      "@modcache " +
          cache +
          "/github.com/!azure/go-ansiterm@v0.0.0-20230124172434-306776ec8161/parser.go\n"
          "@main " +
          root +
          "/cmd/kube-scheduler/scheduler.go\n"
          "@end\n",
      info);
  EXPECT_EQ(layout.build_root, root);
  EXPECT_EQ(layout.module_cache, cache);

  const auto rules = automatic_substitute_path(layout, editor_machine());
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(to_binary("/home/dev/kubernetes/pkg/scheduler/schedule_one.go", rules),
            root + "/pkg/scheduler/schedule_one.go");
  EXPECT_EQ(to_editor(cache + "/github.com/spf13/cobra@v1.9.1/command.go", rules),
            "/home/dev/go/pkg/mod/github.com/spf13/cobra@v1.9.1/command.go");
  EXPECT_EQ(to_binary("/home/dev/go/pkg/mod/github.com/spf13/cobra@v1.9.1/command.go", rules),
            cache + "/github.com/spf13/cobra@v1.9.1/command.go");
}

TEST(SourcePathsParse, ModuleCheckoutWithTheCacheInsideIt) {
  // GOMODCACHE inside the checkout (a CI cache directory) on the build machine and the module cache inside
  // the home directory that is the workspace on the editor's: each cache rule must come before the rule
  // for the directory that contains it, on both sides.
  const auto info = kube_scheduler({module("github.com/spf13/cobra", "v1.9.1")});
  const auto layout = parse_source_layout(
      "@goroot /usr/lib/go-1.26/src/runtime/proc.go\n"
      "@modcache /workspace/kubernetes/.cache/mod/github.com/spf13/cobra@v1.9.1/command.go\n"
      "@main /workspace/kubernetes/cmd/kube-scheduler/scheduler.go\n"
      "@end\n",
      info);
  EXPECT_EQ(layout.build_root, "/workspace/kubernetes");
  EXPECT_EQ(layout.module_cache, "/workspace/kubernetes/.cache/mod");
  EXPECT_EQ(layout.goroot, "/usr/lib/go-1.26");

  LocalPaths local{"/home/dev", "/home/dev/go/pkg/mod", "/usr/local/go"};
  const auto rules = automatic_substitute_path(layout, local);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].to, "/workspace/kubernetes/.cache/mod");
  EXPECT_EQ(to_editor("/workspace/kubernetes/.cache/mod/github.com/spf13/cobra@v1.9.1/args.go", rules),
            "/home/dev/go/pkg/mod/github.com/spf13/cobra@v1.9.1/args.go");
  EXPECT_EQ(to_binary("/home/dev/go/pkg/mod/github.com/spf13/cobra@v1.9.1/args.go", rules),
            "/workspace/kubernetes/.cache/mod/github.com/spf13/cobra@v1.9.1/args.go");
  EXPECT_EQ(to_binary("/home/dev/pkg/kubelet/kubelet.go", rules),
            "/workspace/kubernetes/pkg/kubelet/kubelet.go");
  EXPECT_EQ(to_editor("/usr/lib/go-1.26/src/os/file.go", rules), "/usr/local/go/src/os/file.go");
}

TEST(SourcePathsParse, TrimpathMapsTheWorkspaceToTheModulePath) {
  const auto info =
      kube_scheduler({module("k8s.io/api", "v0.34.0", "./staging/src/k8s.io/api", "(devel)"),
                      module("github.com/Azure/go-ansiterm", "v0.0.0-20230124172434-306776ec8161"),
                      module("gopkg.in/yaml.v3", "v3.0.1", "gopkg.in/yaml.v3", "v3.0.2")},
                     true);
  const auto layout = parse_source_layout(
      "@stdlib runtime/proc.go\n"
      "@module github.com/Azure/go-ansiterm@v0.0.0-20230124172434-306776ec8161/parser.go\n"
      "@main k8s.io/kubernetes/cmd/kube-scheduler/scheduler.go\n"
      "@end\n",
      info);
  EXPECT_TRUE(layout.trimpath);
  EXPECT_EQ(layout.build_root, "k8s.io/kubernetes");
  EXPECT_EQ(layout.goroot, "");
  EXPECT_EQ(layout.module_cache, "");
  EXPECT_TRUE(mentions(layout.evidence, "-trimpath"));
  ASSERT_EQ(layout.modules.size(), 3u);

  const auto rules = automatic_substitute_path(layout, editor_machine());
  EXPECT_EQ(rules.back().from, "/home/dev/sdk/go1.26.8/src");
  EXPECT_EQ(rules.back().to, "");
  // Breakpoints, editor → binary.
  EXPECT_EQ(to_binary("/home/dev/kubernetes/cmd/kube-scheduler/app/server.go", rules),
            "k8s.io/kubernetes/cmd/kube-scheduler/app/server.go");
  EXPECT_EQ(to_binary("/home/dev/kubernetes/staging/src/k8s.io/api/core/v1/types.go", rules),
            "k8s.io/api@v0.34.0/core/v1/types.go");
  EXPECT_EQ(to_binary("/home/dev/go/pkg/mod/github.com/!azure/go-ansiterm@v0.0.0-20230124172434-306776ec8161/"
                      "parser.go",
                      rules),
            "github.com/Azure/go-ansiterm@v0.0.0-20230124172434-306776ec8161/parser.go");
  EXPECT_EQ(to_binary("/home/dev/sdk/go1.26.8/src/runtime/proc.go", rules), "runtime/proc.go");
  // Stack frames, binary → editor.
  EXPECT_EQ(to_editor("k8s.io/kubernetes/pkg/scheduler/scheduler.go", rules),
            "/home/dev/kubernetes/pkg/scheduler/scheduler.go");
  EXPECT_EQ(to_editor("k8s.io/api@v0.34.0/core/v1/types.go", rules),
            "/home/dev/kubernetes/staging/src/k8s.io/api/core/v1/types.go");
  EXPECT_EQ(to_editor("gopkg.in/yaml.v3@v3.0.1/decode.go", rules),
            "/home/dev/go/pkg/mod/gopkg.in/yaml.v3@v3.0.2/decode.go");
  EXPECT_EQ(to_editor("net/http/server.go", rules), "/home/dev/sdk/go1.26.8/src/net/http/server.go");
}

TEST(SourcePathsParse, TrimpathWithoutTheMainFileAssumesTheModulePathAndSaysSo) {
  const auto layout = parse_source_layout("@stdlib runtime/proc.go\n@end\n", kube_scheduler({}, true));
  EXPECT_EQ(layout.build_root, "k8s.io/kubernetes");
  EXPECT_TRUE(mentions(layout.evidence, "assuming"));
}

TEST(SourcePathsParse, MainPackageAtTheModuleRoot) {
  const auto info = build_info("example.com/app", module("example.com/app", "(devel)"),
                               {module("gopkg.in/yaml.v3", "v3.0.1")});
  const auto layout = parse_source_layout(
      "@goroot /usr/local/go/src/runtime/proc.go\n"
      "@modcache /root/go/pkg/mod/gopkg.in/yaml.v3@v3.0.1/decode.go\n"
      "@last /src/main.go\n"
      "@end\n",
      info);
  EXPECT_EQ(layout.build_root, "/src");
  EXPECT_EQ(layout.module_cache, "/root/go/pkg/mod");
  const auto rules =
      automatic_substitute_path(layout, {"/home/dev/app", "/home/dev/go/pkg/mod", "/usr/local/go"});
  ASSERT_EQ(rules.size(), 2u);  // same GOROOT on both machines
  EXPECT_EQ(to_editor("/src/internal/store/store.go", rules), "/home/dev/app/internal/store/store.go");

  // A last file inside the module cache belongs to a dependency, not to the main module.
  const auto wrong = parse_source_layout(
      "@goroot /usr/local/go/src/runtime/proc.go\n"
      "@modcache /root/go/pkg/mod/gopkg.in/yaml.v3@v3.0.1/decode.go\n"
      "@last /root/go/pkg/mod/gopkg.in/yaml.v3@v3.0.1/yaml.go\n"
      "@end\n",
      info);
  EXPECT_EQ(wrong.build_root, "");
  EXPECT_TRUE(mentions(wrong.evidence, "not in the main module"));
}

TEST(SourcePathsParse, InstalledAtAVersionTheRootIsTheModulesCacheDirectory) {
  const auto info =
      build_info("github.com/go-delve/delve/cmd/dlv", module("github.com/go-delve/delve", "v1.27.2"),
                 {module("github.com/cilium/ebpf", "v0.22.0")});
  const std::string own = "/root/go/pkg/mod/github.com/go-delve/delve@v1.27.2";
  const auto layout = parse_source_layout(
      "@goroot /usr/local/go/src/runtime/proc.go\n"
      "@modcache /root/go/pkg/mod/github.com/cilium/ebpf@v0.22.0/prog.go\n"
      "@main /root/go/pkg/mod/example.com/other@v1.0.0/cmd/dlv/main.go\n"
      "@main " +
          own +
          "/cmd/dlv/main.go\n"
          "@end\n",
      info);
  EXPECT_EQ(layout.build_root, own);
  const auto rules =
      automatic_substitute_path(layout, {"/home/dev/delve", "/home/dev/go/pkg/mod", "/usr/local/go"});
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].from, "/home/dev/delve");  // inside the cache rule's `to`, so first
  EXPECT_EQ(to_editor(own + "/pkg/proc/proc.go", rules), "/home/dev/delve/pkg/proc/proc.go");
  EXPECT_EQ(to_editor("/root/go/pkg/mod/github.com/cilium/ebpf@v0.22.0/prog.go", rules),
            "/home/dev/go/pkg/mod/github.com/cilium/ebpf@v0.22.0/prog.go");
}

TEST(SourcePathsParse, LocalReplacementOutsideTheModuleGetsItsOwnRule) {
  const auto info = build_info("example.com/app/cmd/app", module("example.com/app", "(devel)"),
                               {module("example.com/lib", "v0.0.0", "../lib", "(devel)"),
                                module("example.com/inner", "v0.0.0", "./third_party/inner", "(devel)")});
  const auto layout = parse_source_layout(
      "@goroot /usr/local/go/src/runtime/proc.go\n@main /build/app/cmd/app/main.go\n@end\n", info);
  EXPECT_EQ(layout.build_root, "/build/app");
  ASSERT_EQ(layout.modules.size(), 1u);  // the inner one is under the build root already
  EXPECT_EQ(layout.modules[0].binary_dir, "/build/lib");
  const auto rules = automatic_substitute_path(layout, {"/home/dev/src/app", "", ""});
  EXPECT_EQ(to_binary("/home/dev/src/lib/lib.go", rules), "/build/lib/lib.go");
  EXPECT_EQ(to_editor("/build/app/third_party/inner/inner.go", rules),
            "/home/dev/src/app/third_party/inner/inner.go");
}

TEST(SourcePathsWorkspaceReplacements, ReadsLocalReplaceDirectivesOnly) {
  const auto found = local_replacements(
      "module k8s.io/kubernetes\n\ngo 1.25.0\n\n"
      "replace k8s.io/api => ./staging/src/k8s.io/api // the API types\n"
      "replace (\n"
      "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
      "\tk8s.io/remote v1.0.0 => example.com/fork v1.0.1\n"
      "\t\"example.com/quoted\" v0.1.0 => ../quoted/./lib/\n"
      "\t// example.com/commented => ./gone\n"
      ")\n"
      "replace example.com/abs => /srv/abs\n");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"k8s.io/api", "staging/src/k8s.io/api"},
      {"k8s.io/client-go", "staging/src/k8s.io/client-go"},
      {"example.com/quoted", "../quoted/lib"}};
  EXPECT_EQ(found, expected);
  EXPECT_TRUE(local_replacements("module x\nrequire (\n\ta v1\n)\n").empty());
}

// Kubernetes built as a dependency (the binary names its staging modules in the module cache) and opened from
// a checkout, whose go.mod replaces each staging module with staging/src/k8s.io/<repo>.
TEST(SourcePathsWorkspaceReplacements, StagingDirectoriesMapToTheCachedModulesTheBinaryUsed) {
  const auto info = build_info(
      "k8s.io/kubernetes/cmd/kube-scheduler", module("k8s.io/kubernetes", "v1.35.4"),
      {module("k8s.io/client-go", "v0.0.0", "k8s.io/client-go", "v0.35.4"), module("k8s.io/api", "v0.35.4"),
       module("example.com/local", "v0.0.0", "../local", ""), module("github.com/Azure/go-ansi", "v0.1.0")});
  auto layout = parse_source_layout(
      "@goroot /usr/local/go/src/runtime/proc.go\n"
      "@main /cache/gomod/k8s.io/kubernetes@v1.35.4/cmd/kube-scheduler/scheduler.go\n"
      "@modcache /cache/gomod/k8s.io/client-go@v0.35.4/tools/cache/shared_informer.go\n@end\n",
      info);
  add_workspace_replacements(layout, info,
                             {{"k8s.io/client-go", "staging/src/k8s.io/client-go"},
                              {"k8s.io/api", "staging/src/k8s.io/api"},
                              {"k8s.io/not-a-dependency", "staging/src/k8s.io/other"},
                              {"example.com/local", "third_party/local"}});
  ASSERT_EQ(layout.modules.size(), 3u);  // client-go and api first; the local replacement outside stays
  EXPECT_EQ(layout.modules[0].binary_dir, "/cache/gomod/k8s.io/client-go@v0.35.4");
  const auto rules =
      automatic_substitute_path(layout, {"/home/dev/kubernetes", "/home/dev/go/pkg/mod", "/usr/local/go"});
  const std::string informer = "/tools/cache/shared_informer.go";
  EXPECT_EQ(to_binary("/home/dev/kubernetes/staging/src/k8s.io/client-go" + informer, rules),
            "/cache/gomod/k8s.io/client-go@v0.35.4" + informer);
  EXPECT_EQ(to_editor("/cache/gomod/k8s.io/client-go@v0.35.4" + informer, rules),
            "/home/dev/kubernetes/staging/src/k8s.io/client-go" + informer);
  EXPECT_EQ(to_binary("/home/dev/kubernetes/pkg/scheduler/schedule_one.go", rules),
            "/cache/gomod/k8s.io/kubernetes@v1.35.4/pkg/scheduler/schedule_one.go");
  // the editor's own module cache still reaches the binary's
  EXPECT_EQ(to_binary("/home/dev/go/pkg/mod/github.com/!azure/go-ansi@v0.1.0/a.go", rules),
            "/cache/gomod/github.com/!azure/go-ansi@v0.1.0/a.go");
}

TEST(SourcePathsWorkspaceReplacements, TrimpathBuildsNameTheModuleAtItsVersion) {
  const auto info = build_info("k8s.io/kubernetes/cmd/kubectl", module("k8s.io/kubernetes", "v1.35.4"),
                               {module("k8s.io/client-go", "v0.35.4")}, true);
  auto layout = parse_source_layout(
      "@stdlib runtime/proc.go\n@main k8s.io/kubernetes@v1.35.4/cmd/kubectl/kubectl.go\n@end\n", info);
  ASSERT_TRUE(layout.trimpath);
  add_workspace_replacements(layout, info, {{"k8s.io/client-go", "staging/src/k8s.io/client-go"}});
  ASSERT_FALSE(layout.modules.empty());
  EXPECT_EQ(layout.modules.front().binary_dir, "k8s.io/client-go@v0.35.4");
  EXPECT_EQ(layout.modules.front().local_dir, "staging/src/k8s.io/client-go");
  EXPECT_TRUE(layout.modules.front().in_workspace);
}

TEST(SourcePathsParse, NoBuildRootWithoutAMainModuleOrAnAnswer) {
  const auto gopath = parse_source_layout("@goroot /usr/local/go/src/runtime/proc.go\n@end\n",
                                          build_info("k8s.io/kubernetes/cmd/kubelet", {}));
  EXPECT_EQ(gopath.build_root, "");
  EXPECT_EQ(gopath.goroot, "/usr/local/go");
  EXPECT_TRUE(mentions(gopath.evidence, "GOPATH"));

  const auto lacking = parse_source_layout("@lacking grep\n", kube_scheduler());
  EXPECT_EQ(lacking.goroot, "");
  EXPECT_TRUE(mentions(lacking.evidence, "lacks grep"));

  const auto unreadable = parse_source_layout("@unreadable\n", kube_scheduler());
  EXPECT_TRUE(mentions(unreadable.evidence, "cannot read"));
  EXPECT_TRUE(automatic_substitute_path(unreadable, editor_machine()).empty());
}

TEST(SourcePathsMapping, TrailingSlashesAndIdenticalPartsGiveNoRule) {
  SourceLayout layout;
  layout.build_root = "/go/src/k8s.io/kubernetes";
  layout.goroot = "/usr/local/go";
  layout.module_cache = "/go/pkg/mod";
  const auto same =
      automatic_substitute_path(layout, {"/go/src/k8s.io/kubernetes/", "/go/pkg/mod/", "/usr/local/go/"});
  EXPECT_TRUE(same.empty());

  const auto rules = automatic_substitute_path(layout, {"/home/dev/kube/", "/home/dev/go/pkg/mod//", ""});
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].from, "/home/dev/kube");
  // A prefix only at a directory boundary: /home/dev/kube is not /home/dev/kubernetes.
  EXPECT_EQ(to_binary("/home/dev/kubernetes/cmd/kubelet/kubelet.go", rules),
            "/home/dev/kubernetes/cmd/kubelet/kubelet.go");
  EXPECT_EQ(to_binary("/home/dev/kube/cmd/kubelet/kubelet.go", rules),
            "/go/src/k8s.io/kubernetes/cmd/kubelet/kubelet.go");
  EXPECT_EQ(to_editor("/go/pkg/mod2/x.go", rules), "/go/pkg/mod2/x.go");
}

TEST(SourcePathsMapping, EscapesModulePathsAsTheCacheDoes) {
  EXPECT_EQ(escape_module_path("github.com/Azure/go-autorest"), "github.com/!azure/go-autorest");
  EXPECT_EQ(escape_module_path("github.com/BurntSushi/toml"), "github.com/!burnt!sushi/toml");
  EXPECT_EQ(escape_module_path("v1.0.0-RC1"), "v1.0.0-!r!c1");
}

// ---------------------------------------------------------------------------------------------------------
// The node side, run on this machine.

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::string bytes(fs::file_size(path), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

// Runs every command with `prefix` before it: a PATH with a grep that lacks -z.
class PrefixNode final : public node::Node {
 public:
  PrefixNode(asio::any_io_executor ex, std::string prefix)
      : inner_(std::move(ex)), prefix_(std::move(prefix)) {}
  asio::any_io_executor executor() const override { return inner_.executor(); }
  std::string describe() const override { return inner_.describe(); }
  asio::awaitable<node::CommandResult> run(std::string command, node::Duration timeout,
                                           std::string input) override {
    co_return co_await inner_.run(prefix_ + command, timeout, std::move(input));
  }
  asio::awaitable<std::unique_ptr<node::RemoteProcess>> start(std::string command, bool keep_stdin) override {
    co_return co_await inner_.start(std::move(command), keep_stdin);
  }
  asio::awaitable<std::unique_ptr<dap::ByteStream>> open_tunnel(std::uint16_t port) override {
    co_return co_await inner_.open_tunnel(port);
  }
  void close() override {}

 private:
  node::LocalNode inner_;
  std::string prefix_;
};

template <typename T>
T run_on(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T r) {
    error = e;
    if (!e) result = std::move(r);
  });
  io.run_for(std::chrono::seconds(120));
  if (error) std::rethrow_exception(error);
  if (!result) throw std::runtime_error("the node command did not finish within 120 s");
  return std::move(*result);
}

// `prefix` empty: this machine's grep. Otherwise it goes before the command.
SourceLayout layout_of(const std::string& binary, const GoBuildInfo& info, const std::string& prefix = "") {
  asio::io_context io;
  PrefixNode node(io.get_executor(), prefix);
  return run_on(io, read_source_layout(node, binary, info));
}

GoBuildInfo build_info_of(const std::string& binary) {
  asio::io_context io;
  node::LocalNode node(io.get_executor());
  std::vector<std::string> paths{binary};
  auto reports = run_on(io, inspect_programs(node, std::move(paths)));
  if (reports.size() != 1 || !reports[0].go) throw std::runtime_error("no Go build info in " + binary);
  return *reports[0].go;
}

std::string real_grep() {
  for (const char* p : {"/usr/bin/grep", "/bin/grep"}) {
    if (fs::exists(p)) return p;
  }
  throw std::runtime_error("no grep in /usr/bin or /bin");
}

// A directory with a grep that refuses -z (and leaves a mark when asked), as old busybox builds do.
struct GrepWithoutZ {
  TempDir dir{"kdap-srcmap"};
  std::string prefix;
  fs::path mark;
  GrepWithoutZ() {
    mark = dir.path() / "asked-for-z";
    auto grep = dir.path() / "grep";
    write_file(grep, "#!/bin/sh\nfor a in \"$@\"; do\n  case $a in -z) : >" +
                         node::shell_quote(mark.string()) + "; exit 2;; esac\ndone\nexec " +
                         node::shell_quote(real_grep()) + " \"$@\"\n");
    fs::permissions(grep, fs::perms::owner_all);
    prefix = "PATH=" + node::shell_quote(dir.path().string()) + ":$PATH\nexport PATH\n";
  }
};

template <std::size_t N>
std::string bytes_of(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// A file shaped like a binary: NUL-separated file table entries between bytes that are not text, including
// entries that carry garbage right before a path (the preceding byte is not a NUL).
std::string fake_binary(const std::vector<std::string>& entries) {
  std::string bytes = bytes_of(
      "\x7f"
      "ELF\x02\x01\x01\x00\x03\x00\n\x01\x02");
  bytes += "xyz/go/src/k8s.io/kubernetes/cmd/kube-scheduler/glued.go";
  bytes += '\0';
  bytes += "xyz/go/src/k8s.io/kubernetes/cmd/kube-scheduler/garbage.go";
  bytes += bytes_of("\x00\x01\x02\n\x1f");
  bytes += "\x01/bad/cmd/kube-scheduler/control.go";
  bytes += '\0';
  for (const auto& e : entries) {
    bytes += e;
    bytes += '\0';
  }
  bytes += bytes_of("\xff\xfe\n\x00");
  return bytes;
}

TEST(SourcePathsNode, KubernetesLikeFileTableWithAndWithoutGrepZ) {
  TempDir dir("kdap-srcmap");
  const auto binary = (dir.path() / "kube-scheduler").string();
  write_file(binary,
             fake_binary({"/usr/local/go/src/internal/abi/abi.go", "/usr/local/go/src/runtime/proc.go",
                          "/go/pkg/mod/github.com/!azure/go-ansiterm@v0.1.0/parser.go",
                          "/go/src/k8s.io/kubernetes/vendor/example.com/t/cmd/kube-scheduler/t.go",
                          "/go/src/k8s.io/kubernetes/cmd/kube-scheduler/scheduler.go",
                          "/go/src/k8s.io/kubernetes/cmd/kube-scheduler/app/server.go"}));
  const auto info = kube_scheduler({module("github.com/Azure/go-ansiterm", "v0.1.0")});

  const auto with_z = layout_of(binary, info);
  EXPECT_EQ(with_z.build_root, "/go/src/k8s.io/kubernetes");
  EXPECT_EQ(with_z.goroot, "/usr/local/go");
  EXPECT_EQ(with_z.module_cache, "/go/pkg/mod");

  GrepWithoutZ old_grep;
  const auto with_tr = layout_of(binary, info, old_grep.prefix);
  EXPECT_TRUE(fs::exists(old_grep.mark)) << "the command did not try grep -z";
  EXPECT_EQ(with_tr.build_root, with_z.build_root);
  EXPECT_EQ(with_tr.goroot, with_z.goroot);
  EXPECT_EQ(with_tr.module_cache, with_z.module_cache);
  EXPECT_EQ(with_tr.evidence, with_z.evidence);
}

TEST(SourcePathsNode, RootMainPackageFromTheLastFileOutsideGoroot) {
  TempDir dir("kdap-srcmap");
  const auto binary = (dir.path() / "app").string();
  write_file(binary,
             fake_binary({"/usr/local/go/src/runtime/proc.go",
                          "/root/go/pkg/mod/gopkg.in/yaml.v3@v3.0.1/yaml.go", "/src/internal/store/store.go",
                          "/src/main.go", "/usr/local/go/src/crypto/internal/fips140/cast.go"}));
  const auto info = build_info("example.com/app", module("example.com/app", "(devel)"),
                               {module("gopkg.in/yaml.v3", "v3.0.1")});
  const auto layout = layout_of(binary, info);
  EXPECT_EQ(layout.build_root, "/src");
  EXPECT_EQ(layout.module_cache, "/root/go/pkg/mod");
  GrepWithoutZ old_grep;
  EXPECT_EQ(layout_of(binary, info, old_grep.prefix).build_root, "/src");
}

TEST(SourcePathsNode, MissingBinaryAndPathsThatNeedQuoting) {
  TempDir dir("kdap-srcmap");
  const auto missing = layout_of((dir.path() / "nope").string(), kube_scheduler());
  EXPECT_EQ(missing.build_root, "");
  EXPECT_TRUE(mentions(missing.evidence, "cannot read"));

  const auto binary = (dir.path() / "it's a $(binary)").string();
  write_file(binary, fake_binary({"/usr/local/go/src/runtime/proc.go",
                                  "/home/o'neil/src/k8s (copy)/cmd/kube-scheduler/s.go"}));
  EXPECT_EQ(layout_of(binary, kube_scheduler()).build_root, "/home/o'neil/src/k8s (copy)");
}

// ---------------------------------------------------------------------------------------------------------
// Real binaries, built from a copy of tests/fixtures/go in the build tree.

struct GoEnv {
  std::string module_cache, goroot;
};

GoEnv built_with() {
  auto text = read_file(kGoEnvFile);
  auto eol = text.find('\n');
  GoEnv env{text.substr(0, eol), text.substr(eol + 1)};
  while (!env.goroot.empty() && env.goroot.back() == '\n') env.goroot.pop_back();
  return env;
}

// Every entry of the binary that names a Go source file, as dlv will see them.
std::set<std::string> source_files(const std::string& binary) {
  std::set<std::string> files;
  const auto bytes = read_file(binary);
  std::size_t start = 0;
  while (start < bytes.size()) {
    auto end = bytes.find('\0', start);
    if (end == std::string::npos) end = bytes.size();
    std::string entry = bytes.substr(start, end - start);
    start = end + 1;
    if (entry.size() < 4 || !entry.ends_with(".go") || entry.find('/') == std::string::npos) continue;
    bool text = true;
    for (unsigned char c : entry) text = text && c >= 0x20 && c < 0x7f;
    if (text) files.insert(entry);
  }
  return files;
}

const LocalPaths kEditor{"/home/dev/fixtures", "/home/dev/go/pkg/mod", "/opt/go"};

TEST(SourcePathsRealBinary, DebugBuildInACopiedTree) {
  REQUIRE_GO_BINARIES();
  const auto info = build_info_of(kDebug);
  const auto layout = layout_of(kDebug, info);
  const auto env = built_with();
  EXPECT_EQ(layout.build_root, fs::canonical(kTree).string());
  EXPECT_NE(layout.build_root, fs::canonical(KDAP_FIXTURES_DIR "/go").string());
  EXPECT_EQ(layout.module_cache, env.module_cache);
  EXPECT_EQ(layout.goroot, env.goroot);
  EXPECT_FALSE(layout.trimpath);
  EXPECT_TRUE(mentions(layout.evidence, layout.build_root + "/cmd/kubelet-standin/main.go"));
  EXPECT_TRUE(fs::exists(layout.build_root + "/cmd/kubelet-standin/main.go"));

  // Every absolute source file in the binary goes to one of the editor's three places, and back unchanged.
  const auto rules = automatic_substitute_path(layout, kEditor);
  ASSERT_EQ(rules.size(), 3u);
  int workspace = 0, cache = 0, goroot = 0;
  for (const auto& file : source_files(kDebug)) {
    if (file[0] != '/') continue;
    const auto editor = to_editor(file, rules);
    workspace += under(editor, kEditor.workspace);
    cache += under(editor, kEditor.module_cache);
    goroot += under(editor, kEditor.goroot);
    EXPECT_TRUE(under(editor, kEditor.workspace) || under(editor, kEditor.module_cache) ||
                under(editor, kEditor.goroot))
        << file << " → " << editor;
    EXPECT_EQ(to_binary(editor, rules), file);
  }
  EXPECT_GT(workspace, 0);
  EXPECT_GT(cache, 0);  // gopkg.in/yaml.v3
  EXPECT_GT(goroot, 0);
}

TEST(SourcePathsRealBinary, TrimpathBuild) {
  REQUIRE_GO_BINARIES();
  const auto info = build_info_of(kTrimpath);
  ASSERT_EQ(info.setting("-trimpath"), "true");
  const auto layout = layout_of(kTrimpath, info);
  EXPECT_TRUE(layout.trimpath);
  EXPECT_EQ(layout.build_root, info.main_module.path);
  EXPECT_FALSE(mentions(layout.evidence, "assuming"));
  EXPECT_TRUE(mentions(layout.evidence, "runtime/proc.go"));
  EXPECT_EQ(layout.module_cache, "");
  EXPECT_EQ(layout.goroot, "");
  ASSERT_FALSE(info.dependencies.empty());
  const auto& yaml = info.dependencies.front();
  EXPECT_TRUE(mentions(layout.evidence, yaml.path + "@" + yaml.version + "/"));

  const auto rules = automatic_substitute_path(layout, kEditor);
  int workspace = 0, cache = 0, goroot = 0;
  for (const auto& file : source_files(kTrimpath)) {
    ASSERT_NE(file[0], '/') << "-trimpath left an absolute path: " << file;
    const auto editor = to_editor(file, rules);
    workspace += under(editor, kEditor.workspace);
    cache += under(editor, kEditor.module_cache);
    goroot += under(editor, kEditor.goroot + "/src");
    EXPECT_EQ(to_binary(editor, rules), file);
  }
  EXPECT_GT(workspace, 0);
  EXPECT_GT(cache, 0);
  EXPECT_GT(goroot, 0);
  EXPECT_EQ(to_editor(info.main_package + "/main.go", rules),
            kEditor.workspace + "/cmd/kubelet-standin/main.go");
}

TEST(SourcePathsRealBinary, MainPackageAtTheModuleRoot) {
  REQUIRE_GO_BINARIES();
  const auto info = build_info_of(kRootMain);
  ASSERT_EQ(info.main_package, info.main_module.path);
  const auto layout = layout_of(kRootMain, info);
  EXPECT_EQ(layout.build_root, fs::canonical(kTree).string());
  GrepWithoutZ old_grep;
  EXPECT_EQ(layout_of(kRootMain, info, old_grep.prefix).build_root, layout.build_root);
  EXPECT_TRUE(fs::exists(old_grep.mark));
}

TEST(SourcePathsRealBinary, NotAGoBinary) {
  const auto layout = layout_of("/bin/sh", GoBuildInfo{});
  EXPECT_EQ(layout.build_root, "");
  EXPECT_EQ(layout.module_cache, "");
  EXPECT_TRUE(automatic_substitute_path(layout, kEditor).empty());
}

// ---------------------------------------------------------------------------------------------------------

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SourcePathsLocal, GoEnvWhenGoIsThere) {
  REQUIRE_GO_BINARIES();
  const auto env = built_with();
  const std::string go_dir = fs::path(kGo).parent_path().string();
  ScopedEnv path("PATH", (go_dir + ":/usr/bin:/bin").c_str());
  // Without go, GOROOT would come from the environment only.
  ScopedEnv goroot("GOROOT", nullptr);
  const auto local = local_paths(kTree + "/cmd/../");
  EXPECT_EQ(local.workspace, kTree);
  EXPECT_EQ(local.module_cache, env.module_cache);
  EXPECT_EQ(local.goroot, env.goroot);
  EXPECT_NE(local.goroot, "");
}

TEST(SourcePathsLocal, EnvironmentWithoutGo) {
  TempDir empty("kdap-srcmap");
  ScopedEnv path("PATH", empty.path().c_str());
  {
    ScopedEnv cache("GOMODCACHE", "/cache/mod/");
    ScopedEnv goroot("GOROOT", "/opt/go");
    const auto local = local_paths("/home/dev/app");
    EXPECT_EQ(local.workspace, "/home/dev/app");
    EXPECT_EQ(local.module_cache, "/cache/mod");
    EXPECT_EQ(local.goroot, "/opt/go");
  }
  {
    ScopedEnv cache("GOMODCACHE", nullptr);
    ScopedEnv gopath("GOPATH", "/first:/second");
    ScopedEnv goroot("GOROOT", nullptr);
    const auto local = local_paths("");
    EXPECT_EQ(local.module_cache, "/first/pkg/mod");
    EXPECT_EQ(local.goroot, "");
  }
  {
    ScopedEnv cache("GOMODCACHE", nullptr);
    ScopedEnv gopath("GOPATH", nullptr);
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(local_paths("").module_cache, "/home/someone/go/pkg/mod");
  }
}

}  // namespace
}  // namespace kdap::inspect

namespace kdap::inspect {
namespace {

TEST(SourcePathsLocalModule, FindsTheWorkspaceFolderThatHoldsTheMainModule) {
  namespace fs = std::filesystem;
  kdap::testing::TempDir dir("kdap-module-root");
  const fs::path& ws = dir.path();
  fs::create_directories(ws / "staging" / "src" / "k8s.io" / "api");
  fs::create_directories(ws / "vendor" / "example.com" / "lib");
  fs::create_directories(ws / "tests" / "fixtures" / "go");
  std::ofstream(ws / "staging" / "src" / "k8s.io" / "api" / "go.mod") << "module k8s.io/api\n";
  std::ofstream(ws / "vendor" / "example.com" / "lib" / "go.mod") << "module example.com/lib\n";
  std::ofstream(ws / "tests" / "fixtures" / "go" / "go.mod")
      << "// test programs\nmodule \"kdap.test/fixtures\" // x\n";
  EXPECT_EQ(find_local_module_root(ws.string(), "kdap.test/fixtures"),
            (ws / "tests" / "fixtures" / "go").string());
  EXPECT_EQ(find_local_module_root(ws.string(), "k8s.io/api"),
            (ws / "staging" / "src" / "k8s.io" / "api").string());
  EXPECT_EQ(find_local_module_root(ws.string(), "example.com/lib"),
            std::nullopt);  // vendor/ is not the module
  EXPECT_EQ(find_local_module_root(ws.string(), "k8s.io/kubernetes"), std::nullopt);
  std::ofstream(ws / "go.mod") << "module k8s.io/kubernetes\n\ngo 1.26\n";
  EXPECT_EQ(find_local_module_root(ws.string(), "k8s.io/kubernetes"), ws.string());
  fs::remove_all(ws);
}

}  // namespace
}  // namespace kdap::inspect

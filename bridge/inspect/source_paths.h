#pragma once
// Where a Go binary's source files were when it was built, and how those paths map to the editor's machine:
// the substitutePath dlv needs so that breakpoints set in the editor's workspace verify in a binary built in
// another directory (a CI container, the Kubernetes build image, another developer's checkout).
//
// The paths come from the binary's file table (.gopclntab, never compressed, unlike DWARF's .debug_line). The
// node reads them with grep, a few anchored patterns in one command, so the binary never leaves the node.

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "bridge/inspect/elf_info.h"
#include "bridge/node/node.h"

namespace kdap::inspect {

namespace asio = boost::asio;

// A module whose files the binary names neither under the build root nor under the module cache root: every
// dependency of a -trimpath build ("gopkg.in/yaml.v3@v3.0.1/decode.go"), and a local replacement outside the
// main module ("replace example.com/lib => ../lib").
struct ModuleSource {
  std::string binary_dir;  // the directory as the binary names it: "gopkg.in/yaml.v3@v3.0.1", "/build/lib"
  // Where the editor machine has it: relative to the module cache ("github.com/!azure/x@v1.0.0", escaped as
  // the cache spells it) or, when `in_workspace`, to the workspace ("third_party/yaml", "../lib").
  std::string local_dir;
  bool in_workspace = false;
};

struct SourceLayout {  // what the binary says, node side
  // The main module's root as the binary names it: "/go/src/k8s.io/kubernetes"; for -trimpath builds the
  // module path ("k8s.io/kubernetes", or "M@version" for `go install M/cmd@version`). "" when not found.
  std::string build_root;
  bool trimpath = false;
  std::string module_path;   // main module, from build info
  std::string module_cache;  // build machine's module cache root, "" when the binary names no file in it
  std::string goroot;  // build machine's GOROOT, ""; always "" for -trimpath (std files are "runtime/…")
  std::vector<ModuleSource> modules;
  std::vector<std::string> evidence;  // what was found and how, one sentence each, for the console or log
};

// The /bin/sh command that prints, on labelled lines, the paths parse_source_layout needs. It reads the
// binary with grep, tr, sed and tail only, one pass per pattern, each stopping at its first matches.
std::string source_layout_command(const std::string& binary_path, const GoBuildInfo& info);
// Pure: parses the output of source_layout_command(…, info).
SourceLayout parse_source_layout(const std::string& output, const GoBuildInfo& info);
// Runs source_layout_command on the node. Throws node::NodeError when the node cannot run it; a binary that
// cannot be read or that names no paths gives a layout with empty fields and evidence saying why.
asio::awaitable<SourceLayout> read_source_layout(node::Node& node, std::string binary_path, GoBuildInfo info);

struct LocalPaths {
  std::string workspace;
  std::string module_cache;
  std::string goroot;
};
// Editor machine: module cache and GOROOT from `go env` run in the workspace (with a timeout; no `go` is
// fine), else $GOMODCACHE, $GOPATH/pkg/mod, ~/go/pkg/mod and $GOROOT. Blocks for as long as `go env` runs.
LocalPaths local_paths(const std::string& workspace);

// The directory under `workspace` (itself included, at most four levels down; vendor/, node_modules/,
// testdata/ and hidden directories skipped) whose go.mod declares `module_path`: where the editor has the
// main module. nullopt when the workspace does not hold it, so that no rule maps the build root to an
// unrelated folder.
std::optional<std::string> find_local_module_root(const std::string& workspace,
                                                  const std::string& module_path);

// The local replacements in a go.mod's text (`replace M => ./dir`, `M v1 => ../dir`, in blocks or not):
// module path → directory relative to the go.mod's folder. Replacements by another module, or by an absolute
// path, are left out.
std::vector<std::pair<std::string, std::string>> local_replacements(const std::string& go_mod_text);
// local_replacements of `<module_root>/go.mod`; empty when it cannot be read.
std::vector<std::pair<std::string, std::string>> local_replacements_in(const std::string& module_root);

// For each dependency the binary took from a module cache that the editor's main module replaces with a
// directory of its own (Kubernetes' `staging/src/k8s.io/client-go` for `k8s.io/client-go`), a ModuleSource at
// the front of `layout.modules`: breakpoints in that directory reach the cached copy the binary was built
// from, and stops there show the workspace's file. `replacements` as local_replacements gives them.
void add_workspace_replacements(SourceLayout& layout, const GoBuildInfo& info,
                                const std::vector<std::pair<std::string, std::string>>& replacements);

struct PathMapping {  // dlv DAP direction: from = editor path, to = binary path
  std::string from, to;
};
// dlv applies the first rule whose prefix matches, in both directions (from → to for breakpoints, to → from
// for stack frames), so a rule whose `from` or `to` lies inside another rule's comes first. An empty `to`
// (-trimpath standard library) matches every relative path on the way back, so it comes last. Nothing for a
// part that is unknown on either side or the same on both.
std::vector<PathMapping> automatic_substitute_path(const SourceLayout& remote, const LocalPaths& local);

// The module cache's spelling of a module path or version: each upper-case letter becomes '!' and its
// lower-case form ("github.com/Azure/x" → "github.com/!azure/x").
std::string escape_module_path(const std::string& path);

}  // namespace kdap::inspect

#include "bridge/inspect/source_paths.h"

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "bridge/node/local_node.h"
#include "bridge/node/shell.h"
#include "bridge/util/lines.h"

namespace kdap::inspect {
namespace {

namespace fs = std::filesystem;

// busybox grep scans about 40 MB/s and a kubelet is 100-200 MB. Each pattern stops in .gopclntab, except when
// the main package is the module root: then one pass reads the whole binary.
constexpr auto kReadTimeout = std::chrono::seconds(120);
constexpr auto kGoEnvTimeout = std::chrono::seconds(15);
// Candidates for the main package's directory: more than one when a dependency has a package in a directory
// with the same relative path (…/vendor/…/cmd/server).
constexpr int kMainCandidates = 16;
// Dependencies tried at once for the module cache root: any one file of one of them suffices, and a short
// alternation keeps busybox's regex engine fast.
constexpr std::size_t kCacheCandidates = 4;
constexpr std::string_view kRuntimeFile = "/src/runtime/proc.go";

// A path byte is anything but a control byte: NUL ends a file table entry, so a match that spans the whole
// record (grep -x) is exactly one entry, with nothing of its neighbours before it. Under LC_ALL=C the bytes
// of UTF-8 directory names are not control bytes.
constexpr std::string_view kPathChar = "[^[:cntrl:]]";
constexpr std::string_view kNameChar = "[^/[:cntrl:]]";

// GNU grep -z reads NUL-separated records and skips ahead with its fixed-string search (milliseconds for
// 200 MB); busybox 1.35 has -z too. Without -z, tr makes every NUL a line end: the same records, only
// slower. s_ N ERE prints up to N whole records matching ERE, one a line.
constexpr std::string_view kPrelude = R"sh(LC_ALL=C
export LC_ALL
m=
for t in grep tr sed tail; do command -v $t >/dev/null 2>&1 || m="$m $t"; done
if [ -n "$m" ]; then echo "@lacking$m"; exit 0; fi
if [ ! -f "$b" ] || [ ! -r "$b" ]; then echo @unreadable; exit 0; fi
a=-a
printf 'kdap\n' | grep -a -q kdap 2>/dev/null || a=
if printf 'kdap\000' | grep $a -z -x -q kdap 2>/dev/null; then
  s_() { grep $a -z -x -E -m "$1" -e "$2" -- "$b" 2>/dev/null | tr '\000' '\n'; }
else
  s_() { tr '\000' '\n' <"$b" 2>/dev/null | grep $a -x -E -m "$1" -e "$2" 2>/dev/null; }
fi
)sh";

std::string ere_quote(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\.[]()*+?{}|^$").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

bool is_local_directory(const std::string& path) {
  // The go.mod rule for a replacement that names a directory rather than a module.
  return path == "." || path == ".." || path.starts_with("./") || path.starts_with("../") ||
         path.starts_with("/");
}

bool has_version(const GoModule& m) {
  return !m.version.empty() && m.version != "(devel)";
}

// Lexically normal, no trailing slash (but "/" stays "/"): the form every comparison below expects.
std::string clean(const std::string& path) {
  if (path.empty()) return path;
  std::string out = fs::path(path).lexically_normal().generic_string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out == "." ? std::string() : out;
}

// True when `path` lies inside `dir` and is not `dir` itself. "" is the root of all relative paths: that is
// how dlv treats an empty rule side.
bool strictly_under(std::string_view path, std::string_view dir) {
  if (path == dir || path.empty()) return false;
  if (dir.empty()) return path.front() != '/';
  if (dir == "/") return path.front() == '/';
  return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

bool under_or_same(std::string_view path, std::string_view dir) {
  return path == dir || strictly_under(path, dir);
}

std::string dirname(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return "";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

// The main package's directory relative to the main module's root: "cmd/kube-scheduler", "" when the main
// package is the module root, nothing without a main module (GOPATH mode) or for files named on the command
// line ("command-line-arguments").
std::optional<std::string> main_package_dir(const GoBuildInfo& info) {
  const auto& module = info.main_module.path;
  const auto& package = info.main_package;
  if (module.empty()) return std::nullopt;
  if (package == module) return std::string();
  if (package.size() > module.size() + 1 && package.starts_with(module) && package[module.size()] == '/') {
    return package.substr(module.size() + 1);
  }
  return std::nullopt;
}

struct CacheCandidate {
  std::string trimmed;  // "gopkg.in/yaml.v3@v3.0.1": how a -trimpath build names it
  std::string cached;   // "gopkg.in/yaml.v3@v3.0.1": its directory under the module cache root
};

std::string cache_dir(const std::string& path, const std::string& version) {
  return escape_module_path(path) + "@" + escape_module_path(version);
}

// Modules whose files sit in the module cache. A replacement by another module version is where the files
// came from; -trimpath still names them by the original requirement (cmd/go's trimpath rewrite).
std::vector<CacheCandidate> cached_modules(const GoBuildInfo& info) {
  std::vector<CacheCandidate> out;
  auto add = [&](const GoModule& m) {
    if (m.path.empty() || !has_version(m)) return;
    CacheCandidate c;
    c.trimmed = m.path + "@" + m.version;
    if (!m.replace_path.empty()) {
      if (is_local_directory(m.replace_path) || m.replace_version.empty()) return;
      c.cached = cache_dir(m.replace_path, m.replace_version);
    } else {
      c.cached = cache_dir(m.path, m.version);
    }
    out.push_back(std::move(c));
  };
  add(info.main_module);
  for (const auto& dep : info.dependencies) add(dep);
  return out;
}

std::string alternation(const std::vector<CacheCandidate>& candidates, bool trimmed) {
  std::string out;
  for (std::size_t i = 0; i < candidates.size() && i < kCacheCandidates; ++i) {
    if (!out.empty()) out += '|';
    out += ere_quote(trimmed ? candidates[i].trimmed : candidates[i].cached);
  }
  return out;
}

std::string labelled(std::string_view label, int count, const std::string& ere) {
  return "s_ " + std::to_string(count) + " " + node::shell_quote(ere) + " | sed 's|^|@" + std::string(label) +
         " |'\n";
}

struct Answer {
  std::vector<std::string> main, last, goroot, stdlib, modcache, module;
  std::string lacking;
  bool unreadable = false;
  bool ended = false;
};

Answer split_answer(const std::string& output) {
  Answer answer;
  const std::map<std::string_view, std::vector<std::string>*> labels = {
      {"@main ", &answer.main},     {"@last ", &answer.last},         {"@goroot ", &answer.goroot},
      {"@stdlib ", &answer.stdlib}, {"@modcache ", &answer.modcache}, {"@module ", &answer.module}};
  std::string_view rest(output);
  while (!rest.empty()) {
    auto eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line == "@end") answer.ended = true;
    if (line == "@unreadable") answer.unreadable = true;
    if (line.starts_with("@lacking")) answer.lacking = std::string(line.substr(8));
    for (const auto& [label, into] : labels) {
      if (line.starts_with(label) && line.size() > label.size())
        into->emplace_back(line.substr(label.size()));
    }
  }
  return answer;
}

// The module cache root from one file of a cached module: everything before "/<module>@<version>/".
std::string cache_root(const std::string& file, const std::vector<CacheCandidate>& candidates) {
  for (const auto& c : candidates) {
    auto at = file.find("/" + c.cached + "/");
    if (at != std::string::npos && at > 0) return file.substr(0, at);
  }
  return "";
}

void find_build_root(const Answer& answer, const GoBuildInfo& info, SourceLayout& layout) {
  const auto relative = main_package_dir(info);
  const auto& module = info.main_module.path;
  if (!relative) {
    layout.evidence.push_back(module.empty()
                                  ? "no build root: the binary has no main module (built in GOPATH mode)"
                                  : "no build root: the main package " + info.main_package +
                                        " is not inside the main module " + module);
    return;
  }
  const std::string suffix = relative->empty() ? "" : "/" + *relative;
  if (layout.trimpath) {
    for (const auto& file : answer.main) {
      std::string root = dirname(file);
      if (!suffix.empty()) {
        if (!root.ends_with(suffix)) continue;
        root.resize(root.size() - suffix.size());
      }
      if (root != module && !root.starts_with(module + "@")) continue;
      layout.build_root = root;
      layout.evidence.push_back("-trimpath build: the binary names the main module's files " + root + "/… (" +
                                file + "), so the workspace maps to " + root);
      return;
    }
    layout.build_root = has_version(info.main_module) ? module + "@" + info.main_module.version : module;
    layout.evidence.push_back("-trimpath build: no file of the main package " + info.main_package +
                              " found in the binary; assuming the main module's files are named " +
                              layout.build_root + "/…");
    return;
  }
  // A root inside the module cache is right only for the main module's own directory (go install M@v).
  std::string own_cache_dir;
  if (!layout.module_cache.empty() && has_version(info.main_module)) {
    own_cache_dir = layout.module_cache + "/" + cache_dir(module, info.main_module.version);
  }
  auto acceptable = [&](const std::string& root) {
    if (root.empty()) return false;
    if (root.find("/vendor/") != std::string::npos || root.ends_with("/vendor")) return false;
    if (!layout.goroot.empty() && under_or_same(root, layout.goroot)) return false;
    return layout.module_cache.empty() || !under_or_same(root, layout.module_cache) || root == own_cache_dir;
  };
  if (relative->empty()) {
    // Nothing in a path tells the module root from any other directory when the main package sits there.
    // The linker lays out compilation units dependencies first, so the main package's files are the last
    // ones outside GOROOT in the file table.
    if (answer.last.empty()) {
      layout.evidence.push_back("no build root: no file of the main package " + info.main_package +
                                " found in the binary");
      return;
    }
    const auto& file = answer.last.front();
    std::string root = dirname(file);
    if (!acceptable(root)) {
      layout.evidence.push_back("no build root: the last source file in the binary, " + file +
                                ", is not in the main module");
      return;
    }
    layout.build_root = root;
    layout.evidence.push_back("build root " + root + ": the main package " + info.main_package +
                              " is the module root, and the binary's last file outside GOROOT is " + file);
    return;
  }
  std::string chosen, chosen_file;
  for (const auto& file : answer.main) {
    std::string root = dirname(file);
    if (!root.ends_with(suffix)) continue;
    root.resize(root.size() - suffix.size());
    if (!acceptable(root)) continue;
    // GOPATH layouts and the module's own cache directory say outright that this is the module.
    bool named = root.ends_with("/" + module) || (!own_cache_dir.empty() && root == own_cache_dir);
    if (chosen.empty() || named) {
      chosen = root;
      chosen_file = file;
    }
    if (named) break;
  }
  if (chosen.empty()) {
    layout.evidence.push_back("no build root: no file of the main package " + info.main_package + " (…/" +
                              *relative + "/*.go) found in the binary");
    return;
  }
  layout.build_root = chosen;
  layout.evidence.push_back("build root " + chosen + ": the main package " + info.main_package + " is at " +
                            chosen_file);
}

void find_modules(const Answer& answer, const GoBuildInfo& info, SourceLayout& layout) {
  if (!layout.trimpath) {
    // Local replacements inside the build root are covered by the build root's rule.
    if (layout.build_root.empty()) return;
    for (const auto& dep : info.dependencies) {
      if (dep.replace_path.empty() || !is_local_directory(dep.replace_path) || dep.replace_path[0] == '/') {
        continue;
      }
      std::string dir = clean(layout.build_root + "/" + dep.replace_path);
      if (under_or_same(dir, layout.build_root)) continue;
      layout.modules.push_back({dir, clean(dep.replace_path), true});
    }
    return;
  }
  for (const auto& dep : info.dependencies) {
    if (dep.path.empty() || !has_version(dep)) continue;
    const std::string trimmed = dep.path + "@" + dep.version;
    if (dep.replace_path.empty()) {
      layout.modules.push_back({trimmed, cache_dir(dep.path, dep.version), false});
    } else if (!is_local_directory(dep.replace_path)) {
      if (!dep.replace_version.empty()) {
        layout.modules.push_back({trimmed, cache_dir(dep.replace_path, dep.replace_version), false});
      }
    } else if (dep.replace_path[0] != '/') {
      // The directory is relative to the main module's go.mod, which is the workspace on the editor side.
      layout.modules.push_back({trimmed, clean(dep.replace_path), true});
    }
  }
  if (!answer.module.empty()) {
    layout.evidence.push_back("-trimpath build: dependencies are named <module>@<version>/… (" +
                              answer.module.front() + ")");
  }
}

}  // namespace

std::string escape_module_path(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c >= 'A' && c <= 'Z') {
      out += '!';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

std::string source_layout_command(const std::string& binary_path, const GoBuildInfo& info) {
  const bool trimpath = info.setting("-trimpath") == "true";
  const std::string any(kPathChar);
  const std::string name = std::string(kNameChar) + "*\\.go";
  std::string script = "b=" + node::shell_quote(binary_path) + "\n";
  script += kPrelude;
  const auto candidates = cached_modules(info);
  if (trimpath) {
    script += labelled("stdlib", 1, "runtime/proc\\.go");
    if (!candidates.empty())
      script += labelled("module", 1, "(" + alternation(candidates, true) + ")/" + name);
  } else {
    script += "g=$(s_ 1 " + node::shell_quote("/" + any + "*" + ere_quote(kRuntimeFile)) + ")\n";
    script += "[ -z \"$g\" ] || printf '@goroot %s\\n' \"$g\"\n";
    if (!candidates.empty()) {
      script +=
          labelled("modcache", 1, "/" + any + "*/(" + alternation(candidates, false) + ")/" + any + "*\\.go");
    }
  }
  if (const auto relative = main_package_dir(info)) {
    const std::string dir = relative->empty() ? "" : "/" + ere_quote(*relative);
    if (trimpath) {
      script += labelled(
          "main", kMainCandidates,
          ere_quote(info.main_module.path) + "(@" + std::string(kNameChar) + "*)?" + dir + "/" + name);
    } else if (!relative->empty()) {
      script += labelled("main", kMainCandidates, "/" + any + "*" + dir + "/" + name);
    } else {
      // Every absolute file, then the last one outside GOROOT (see find_build_root).
      script += "if [ -n \"$g\" ]; then s_ 2000000000 " + node::shell_quote("/" + any + "*\\.go") +
                " | grep -v -F -e \"${g%" + std::string(kRuntimeFile) +
                "}/src/\" | tail -n 1 | sed 's|^|@last |'; fi\n";
    }
  }
  script += "echo @end\n";
  return script;
}

SourceLayout parse_source_layout(const std::string& output, const GoBuildInfo& info) {
  SourceLayout layout;
  layout.trimpath = info.setting("-trimpath") == "true";
  layout.module_path = info.main_module.path;
  const Answer answer = split_answer(output);
  if (!answer.lacking.empty()) {
    layout.evidence.push_back("the node lacks" + answer.lacking + ", which kdap needs to read source paths");
    return layout;
  }
  if (answer.unreadable) {
    layout.evidence.push_back(
        "cannot read the binary on the node (missing, not a regular file, or not readable)");
    return layout;
  }
  if (!answer.ended) layout.evidence.push_back("the node's answer ended early; the layout may be incomplete");

  if (!layout.trimpath && !answer.goroot.empty() && answer.goroot.front().ends_with(kRuntimeFile)) {
    const auto& file = answer.goroot.front();
    layout.goroot = file.substr(0, file.size() - kRuntimeFile.size());
    layout.evidence.push_back("GOROOT " + layout.goroot + " (" + file + ")");
  }
  if (layout.trimpath && !answer.stdlib.empty()) {
    layout.evidence.push_back("-trimpath build: standard library files are named relative to GOROOT/src (" +
                              answer.stdlib.front() + ")");
  }
  if (!answer.modcache.empty()) {
    const auto& file = answer.modcache.front();
    layout.module_cache = cache_root(file, cached_modules(info));
    if (!layout.module_cache.empty()) {
      layout.evidence.push_back("module cache " + layout.module_cache + " (" + file + ")");
    }
  }
  find_build_root(answer, info, layout);
  find_modules(answer, info, layout);
  return layout;
}

asio::awaitable<SourceLayout> read_source_layout(node::Node& node, std::string binary_path,
                                                 GoBuildInfo info) {
  std::string command = source_layout_command(binary_path, info);
  std::string no_input;
  node::CommandResult result = co_await node.run(std::move(command), kReadTimeout, std::move(no_input));
  SourceLayout layout = parse_source_layout(result.out, info);
  if (!result.ok()) {
    layout.evidence.push_back("reading source paths on the node ended with status " +
                              std::to_string(result.exit_status));
  }
  co_return layout;
}

namespace {

// The module path a go.mod declares ("module k8s.io/kubernetes", possibly quoted or commented).
std::string declared_module(const fs::path& go_mod) {
  std::ifstream in(go_mod);
  for (std::string line; std::getline(in, line);) {
    auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line.compare(start, 7, "module ") != 0) continue;
    std::string rest = line.substr(start + 7);
    rest = rest.substr(0, rest.find("//"));
    auto b = rest.find_first_not_of(" \t\"`");
    auto e = rest.find_last_not_of(" \t\r\"`");
    return b == std::string::npos ? std::string() : rest.substr(b, e - b + 1);
  }
  return "";
}

}  // namespace

std::optional<std::string> find_local_module_root(const std::string& workspace,
                                                  const std::string& module_path) {
  if (workspace.empty() || module_path.empty()) return std::nullopt;
  std::error_code ec;
  fs::path root(workspace);
  if (declared_module(root / "go.mod") == module_path) return clean(root.generic_string());
  constexpr int kMaxDepth = 4;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const auto& entry = *it;
    std::string name = entry.path().filename().string();
    if (entry.is_directory(ec)) {
      if (it.depth() >= kMaxDepth || name.starts_with(".") || name == "vendor" || name == "node_modules" ||
          name == "testdata" || name == "_output") {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (name == "go.mod" && declared_module(entry.path()) == module_path) {
      return clean(entry.path().parent_path().generic_string());
    }
  }
  return std::nullopt;
}

LocalPaths local_paths(const std::string& workspace) {
  LocalPaths paths;
  if (!workspace.empty()) {
    std::error_code ec;
    auto absolute = fs::absolute(workspace, ec);
    paths.workspace = clean(ec ? workspace : absolute.generic_string());
  }

  // In the workspace, `go` picks the toolchain the editor's gopls uses there (go.mod's toolchain line), and
  // with it the GOROOT the editor opens standard library files from.
  std::string command = "command -v go >/dev/null 2>&1 || exit 127\n";
  if (!paths.workspace.empty()) command += "cd " + node::shell_quote(paths.workspace) + " 2>/dev/null\n";
  command += "go env GOMODCACHE GOROOT || { cd / && go env GOMODCACHE GOROOT; }";
  auto result = node::run_here_and_wait(std::move(command), kGoEnvTimeout);
  if (result && result->ok()) {
    std::string_view out(result->out);
    auto eol = out.find('\n');
    paths.module_cache = clean(std::string(out.substr(0, eol)));
    if (eol != std::string_view::npos) {
      auto rest = out.substr(eol + 1);
      paths.goroot = clean(std::string(rest.substr(0, rest.find('\n'))));
    }
  }

  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
  };
  if (paths.module_cache.empty()) paths.module_cache = clean(env("GOMODCACHE"));
  if (paths.module_cache.empty()) {
    std::string gopath = env("GOPATH");
    gopath = gopath.substr(0, gopath.find(':'));  // go uses the first entry of the list
    if (!gopath.empty()) paths.module_cache = clean(gopath + "/pkg/mod");
  }
  if (paths.module_cache.empty() && !env("HOME").empty())
    paths.module_cache = clean(env("HOME") + "/go/pkg/mod");
  if (paths.goroot.empty()) paths.goroot = clean(env("GOROOT"));
  return paths;
}

std::vector<std::pair<std::string, std::string>> local_replacements(const std::string& go_mod_text) {
  std::vector<std::pair<std::string, std::string>> found;
  auto words_of = [](const std::string& text) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < text.size()) {
      i = text.find_first_not_of(" \t\r", i);
      if (i == std::string::npos) break;
      std::size_t end = text.find_first_of(" \t\r", i);
      if (end == std::string::npos) end = text.size();
      std::string word = text.substr(i, end - i);
      if (word.size() >= 2 && (word.front() == '"' || word.front() == '`') && word.back() == word.front()) {
        word = word.substr(1, word.size() - 2);
      }
      words.push_back(word);
      i = end;
    }
    return words;
  };
  auto take = [&](const std::vector<std::string>& words) {
    // M [v] => target [v]
    auto arrow = std::find(words.begin(), words.end(), "=>");
    if (arrow == words.begin() || arrow == words.end() || arrow + 1 == words.end()) return;
    const std::string& target = *(arrow + 1);
    if (!target.starts_with("./") && !target.starts_with("../") && target != "." && target != "..") return;
    found.emplace_back(words.front(), clean(target));
  };
  bool in_block = false;
  for (std::string_view whole_line : split_lines(go_mod_text)) {
    std::string line(whole_line.substr(0, whole_line.find("//")));
    auto words = words_of(line);
    if (words.empty()) continue;
    if (in_block) {
      if (words.front() == ")") {
        in_block = false;
      } else {
        take(words);
      }
      continue;
    }
    if (words.front() != "replace") continue;
    if (words.size() == 2 && words[1] == "(") {
      in_block = true;
      continue;
    }
    take(std::vector<std::string>(words.begin() + 1, words.end()));
  }
  return found;
}

std::vector<std::pair<std::string, std::string>> local_replacements_in(const std::string& module_root) {
  std::ifstream go_mod(module_root + "/go.mod");
  std::string text((std::istreambuf_iterator<char>(go_mod)), std::istreambuf_iterator<char>());
  return local_replacements(text);
}

void add_workspace_replacements(SourceLayout& layout, const GoBuildInfo& info,
                                const std::vector<std::pair<std::string, std::string>>& replacements) {
  std::vector<ModuleSource> added;
  for (const auto& dep : info.dependencies) {
    // The module the files came from: the dependency itself, or the module that replaced it ("=> k8s.io/x
    // v0.35.4", how a module that depends on Kubernetes pins its staging modules). A directory is no cache.
    std::string from_path = dep.replace_path.empty() ? dep.path : dep.replace_path;
    std::string from_version = dep.replace_path.empty() ? dep.version : dep.replace_version;
    if (from_version.empty() || from_path.starts_with(".") || from_path.starts_with("/")) continue;
    for (const auto& [module, dir] : replacements) {
      if (module != dep.path) continue;
      ModuleSource source;
      if (layout.trimpath) {
        source.binary_dir = from_path + "@" + from_version;
      } else if (!layout.module_cache.empty()) {
        source.binary_dir = layout.module_cache + "/" + cache_dir(from_path, from_version);
      } else {
        continue;
      }
      source.local_dir = dir;
      source.in_workspace = true;
      added.push_back(std::move(source));
      layout.evidence.push_back(dep.path + " " + dep.version +
                                " came from the module cache; the workspace's go.mod "
                                "replaces it with " +
                                dir);
    }
  }
  layout.modules.insert(layout.modules.begin(), added.begin(), added.end());
}

std::vector<PathMapping> automatic_substitute_path(const SourceLayout& remote, const LocalPaths& local) {
  const std::string workspace = clean(local.workspace);
  const std::string local_cache = clean(local.module_cache);
  const std::string local_goroot = clean(local.goroot);
  std::vector<PathMapping> rules;
  auto add = [&](std::string from, std::string to, bool allow_empty_to) {
    if (from.empty() || (to.empty() && !allow_empty_to) || from == to) return;
    for (const auto& r : rules) {
      if (r.from == from) return;  // dlv would never reach a second rule with the same prefix
    }
    rules.push_back({std::move(from), std::move(to)});
  };
  add(workspace, clean(remote.build_root), false);
  add(local_cache, clean(remote.module_cache), false);
  if (!remote.trimpath) add(local_goroot, clean(remote.goroot), false);
  for (const auto& m : remote.modules) {
    const std::string base = m.in_workspace ? workspace : local_cache;
    if (base.empty() || m.local_dir.empty()) continue;
    add(clean(base + "/" + m.local_dir), clean(m.binary_dir), false);
  }
  if (remote.trimpath && !local_goroot.empty()) add(local_goroot + "/src", "", true);

  // A rule must precede every rule whose `from` or `to` contains its own; otherwise keep the order above. A
  // contradiction (each inside the other on opposite sides) cannot be ordered: the earlier one wins.
  std::vector<PathMapping> ordered;
  std::vector<bool> taken(rules.size(), false);
  for (std::size_t round = 0; round < rules.size(); ++round) {
    std::size_t pick = rules.size();
    for (std::size_t i = 0; i < rules.size() && pick == rules.size(); ++i) {
      if (taken[i]) continue;
      bool blocked = false;
      for (std::size_t j = 0; j < rules.size() && !blocked; ++j) {
        if (j == i || taken[j]) continue;
        blocked = strictly_under(rules[j].from, rules[i].from) || strictly_under(rules[j].to, rules[i].to);
      }
      if (!blocked) pick = i;
    }
    if (pick == rules.size()) {
      for (pick = 0; taken[pick]; ++pick) {
      }
    }
    taken[pick] = true;
    ordered.push_back(rules[pick]);
  }
  return ordered;
}

}  // namespace kdap::inspect

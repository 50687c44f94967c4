#include "bridge/inspect/source_revision.h"

#include <algorithm>
#include <chrono>

#include "bridge/node/local_node.h"
#include "bridge/node/shell.h"
#include "bridge/util/lines.h"

namespace kdap::inspect {
namespace {

constexpr auto kGitTimeout = std::chrono::seconds(10);

bool is_hex(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The value of the first `-X <path>.<name>=<value>` in -ldflags, quotes and all forms of spacing aside.
std::string ldflags_variable(const std::string& ldflags, const std::string& name) {
  std::string key = "." + name + "=";
  auto at = ldflags.find(key);
  if (at == std::string::npos) return "";
  auto begin = at + key.size();
  auto end = ldflags.find_first_of(" '\"\t", begin);
  return ldflags.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

std::string short_commit(const std::string& commit) {
  return commit.substr(0, 12);
}

}  // namespace

std::optional<SourceRevision> built_revision(const GoBuildInfo& info) {
  SourceRevision built;
  built.commit = info.setting("vcs.revision");
  if (is_hex(built.commit)) {
    built.modified = info.setting("vcs.modified") == "true";
    return built;
  }
  std::string ldflags = info.setting("-ldflags");
  built.commit = ldflags_variable(ldflags, "gitCommit");
  if (!is_hex(built.commit)) return std::nullopt;
  built.modified = ldflags_variable(ldflags, "gitTreeState") == "dirty";
  return built;
}

std::optional<SourceRevision> local_revision(const std::string& dir) {
  std::string git = "git -C " + node::shell_quote(dir);
  auto result =
      node::run_here_and_wait("command -v git >/dev/null 2>&1 || exit 127\n" + git + " rev-parse HEAD && " +
                                  git + " status --porcelain --untracked-files=no -- .",
                              kGitTimeout);
  if (!result || !result->ok()) return std::nullopt;
  auto lines = split_lines(result->out);
  if (lines.empty() || !is_hex(std::string(lines.front()))) return std::nullopt;
  return SourceRevision{std::string(lines.front()), lines.size() > 1};
}

std::string revision_note(const SourceRevision& built, const SourceRevision& local, const std::string& binary,
                          const std::string& checkout) {
  // Either side may record an abbreviated id.
  auto length = std::min(built.commit.size(), local.commit.size());
  bool same_commit = length >= 7 && built.commit.compare(0, length, local.commit, 0, length) == 0;
  std::string built_text = short_commit(built.commit) + (built.modified ? " with uncommitted changes" : "");
  if (!same_commit) {
    return "source revision: " + binary + " was built from commit " + built_text + ", but " + checkout +
           " is at " + short_commit(local.commit) + (local.modified ? " with uncommitted changes" : "") +
           ": breakpoints may stop at lines that hold other code. Check out " + short_commit(built.commit) +
           " to debug what runs.";
  }
  // Both with uncommitted changes is the everyday edit-build-debug loop; which changes, no record says.
  if (built.modified && !local.modified) {
    return "source revision: " + binary + " was built from commit " + built_text +
           ": lines may not match the committed files in " + checkout + ".";
  }
  if (local.modified && !built.modified) {
    return "source revision: " + checkout + " has uncommitted changes to commit " +
           short_commit(local.commit) + ", which " + binary +
           " was built from: lines may not match in the files you changed.";
  }
  return "";
}

}  // namespace kdap::inspect

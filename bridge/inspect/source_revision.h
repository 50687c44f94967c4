#pragma once
// Whether the editor's sources are the ones the program on the node was built from. Breakpoints verify by
// file and line alone, so a workspace at another commit stops at lines that hold other code, without a word.

#include <optional>
#include <string>

#include "bridge/inspect/elf_info.h"

namespace kdap::inspect {

struct SourceRevision {
  std::string commit;     // hex commit id, as recorded (usually all 40 digits)
  bool modified = false;  // built from, or standing on, uncommitted changes
};

// What the binary records: vcs.revision and vcs.modified (go build in a git checkout), else the gitCommit and
// gitTreeState that Kubernetes' own builds set with -ldflags -X (k8s.io/component-base/version and the like).
// nullopt when it records neither.
std::optional<SourceRevision> built_revision(const GoBuildInfo& info);
// `git rev-parse HEAD` in `dir`, and whether tracked files under `dir` differ from it; nullopt when `dir` is
// in no git work tree or git is missing. Blocks while git runs (with a timeout).
std::optional<SourceRevision> local_revision(const std::string& dir);
// The console note when the editor's checkout is at another commit than the binary was built from, or only
// one of them has uncommitted changes; "" when they agree (both with uncommitted changes count as agreeing:
// that is the edit-build-debug loop, and no record says which changes went into the build).
std::string revision_note(const SourceRevision& built, const SourceRevision& local, const std::string& binary,
                          const std::string& checkout);

}  // namespace kdap::inspect

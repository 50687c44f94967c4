#include "bridge/inspect/source_revision.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "bridge/node/shell.h"
#include "tests/unit/bridge/temp_files.h"

namespace kdap::inspect {
namespace {

const std::string kCommitA = "0123456789abcdef0123456789abcdef01234567";
const std::string kCommitB = "fedcba9876543210fedcba9876543210fedcba98";

GoBuildInfo with_settings(std::map<std::string, std::string> settings) {
  GoBuildInfo info;
  info.settings = std::move(settings);
  return info;
}

TEST(BuiltRevision, FromVcsSettings) {
  auto built =
      built_revision(with_settings({{"vcs", "git"}, {"vcs.revision", kCommitA}, {"vcs.modified", "true"}}));
  ASSERT_TRUE(built);
  EXPECT_EQ(built->commit, kCommitA);
  EXPECT_TRUE(built->modified);
  EXPECT_FALSE(built_revision(with_settings({{"vcs.revision", kCommitA}}))->modified);
}

TEST(BuiltRevision, FromKubernetesLdflags) {
  // What hack/lib/version.sh passes, as go records it.
  auto built = built_revision(
      with_settings({{"-ldflags", "-X 'k8s.io/client-go/pkg/version.gitCommit=" + kCommitB +
                                      "' -X 'k8s.io/component-base/version.gitTreeState=dirty' "
                                      "-X 'k8s.io/component-base/version.gitVersion=v1.31.0'"}}));
  ASSERT_TRUE(built);
  EXPECT_EQ(built->commit, kCommitB);
  EXPECT_TRUE(built->modified);
  auto clean = built_revision(
      with_settings({{"-ldflags", "-s -w -X k8s.io/component-base/version.gitCommit=" + kCommitB +
                                      " -X x.gitTreeState=clean"}}));
  ASSERT_TRUE(clean);
  EXPECT_FALSE(clean->modified);
}

TEST(BuiltRevision, NothingRecorded) {
  EXPECT_FALSE(built_revision(with_settings({})));
  EXPECT_FALSE(built_revision(with_settings({{"-ldflags", "-s -w"}, {"vcs.revision", ""}})));
  EXPECT_FALSE(built_revision(with_settings({{"-ldflags", "-X main.gitCommit=$(git rev-parse HEAD)"}})));
}

TEST(RevisionNote, SaysWhatDiffersAndNothingWhenAllAgrees) {
  EXPECT_EQ(revision_note({kCommitA, false}, {kCommitA, false}, "/usr/bin/x", "/src"), "");
  EXPECT_EQ(revision_note({kCommitA.substr(0, 12), false}, {kCommitA, false}, "/usr/bin/x", "/src"), "");
  EXPECT_EQ(revision_note({kCommitA, true}, {kCommitA, true}, "/usr/bin/x", "/src"), "");
  auto other = revision_note({kCommitA, false}, {kCommitB, true}, "/usr/bin/x", "/src");
  EXPECT_NE(
      other.find("built from commit 0123456789ab, but /src is at fedcba987654 with uncommitted changes"),
      std::string::npos)
      << other;
  EXPECT_NE(other.find("Check out 0123456789ab"), std::string::npos) << other;
  EXPECT_NE(revision_note({kCommitA, true}, {kCommitA, false}, "/usr/bin/x", "/src").find("with uncommitted"),
            std::string::npos);
  EXPECT_NE(
      revision_note({kCommitA, false}, {kCommitA, true}, "/usr/bin/x", "/src").find("/src has uncommitted"),
      std::string::npos);
}

TEST(LocalRevision, ReadsARealCheckout) {
  kdap::testing::TempDir dir("kdap-revision");
  std::string root = dir.path().string();
  EXPECT_FALSE(local_revision(root));  // not a work tree
  std::string git = "git -C " + node::shell_quote(root) + " -c user.name=kdap -c user.email=kdap@localhost ";
  kdap::testing::write_file(dir.path() / "main.go", "package main\n");
  ASSERT_EQ(std::system((git + "init -q && " + git + "add main.go && " + git + "commit -q -m one").c_str()),
            0);
  auto clean = local_revision(root);
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->commit.size(), 40u);
  EXPECT_FALSE(clean->modified);
  kdap::testing::write_file(dir.path() / "main.go", "package main\n\nfunc main() {}\n");
  auto changed = local_revision(root);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->commit, clean->commit);
  EXPECT_TRUE(changed->modified);
}

}  // namespace
}  // namespace kdap::inspect

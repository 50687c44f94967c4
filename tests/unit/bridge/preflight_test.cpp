#include <gtest/gtest.h>

#include "bridge/session/preflight.h"

namespace kdap::session {
namespace {

TEST(Preflight, ReadsDlvsVersionLine) {
  auto v = parse_dlv_version("Delve Debugger\nVersion: 1.27.2\nBuild: $Id: 0123abcd $\n");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1);
  EXPECT_EQ(v->minor, 27);
  EXPECT_EQ(v->patch, 2);
  auto debian = parse_dlv_version("Delve Debugger\nVersion: 1.20.2\nBuild: $Id: e0c278ad $\n");
  ASSERT_TRUE(debian);
  EXPECT_EQ(debian->minor, 20);
  EXPECT_FALSE(parse_dlv_version("dlv: command not found\n"));
  EXPECT_FALSE(parse_dlv_version("Build: Version: 1.2.3"));  // not at the start of a line
}

TEST(Preflight, NewestGoADlvReleaseDebugs) {
  // Delve 1.20 and later follow Go's minor numbers; 1.7–1.9 debugged Go 1.17–1.19.
  EXPECT_EQ(newest_go_minor_for_dlv({1, 27, 2}), 27);
  EXPECT_EQ(newest_go_minor_for_dlv({1, 20, 2}), 20);
  EXPECT_EQ(newest_go_minor_for_dlv({1, 9, 1}), 19);
  EXPECT_EQ(newest_go_minor_for_dlv({1, 7, 3}), 17);
}

}  // namespace
}  // namespace kdap::session

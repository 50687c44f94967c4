#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bridge/targets/systemd_unit.h"
#include "bridge/targets/target.h"

namespace kdap::targets {
namespace {

using Argv = std::vector<std::string>;

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(KDAP_FIXTURES_DIR) + "/systemd/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ServiceDefinition parse_one(const std::string& text, const std::string& unit = "demo.service") {
  return parse_service_definition({{"/etc/systemd/system/" + unit, text}}, unit);
}

// The message of the TargetError `f` throws, or a failure when it throws nothing.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const TargetError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a TargetError";
  return "";
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "in: " << (haystack)

// ---- the kubeadm kubelet of the seed document ----

TEST(SystemdKubeadm, ExpandsTheKubeletCommandLineExactly) {
  const auto files = split_systemctl_cat(read_fixture("kubelet-systemctl-cat.txt"));
  const auto def = parse_service_definition(files, "kubelet.service");
  const auto env = effective_environment(def, {read_fixture("kubeadm-flags.env"), std::nullopt});
  EXPECT_EQ(expand_exec_start(def, env),
            (Argv{"/usr/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                  "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml",
                  "--cgroup-driver=cgroupfs", "--network-plugin=cni",
                  "--pod-infra-container-image=registry.com/pause:3.1"}));
  EXPECT_EQ(expand_exec_start(def.exec_start, env, def.unit), expand_exec_start(def, env));
}

TEST(SystemdKubeadm, ReadsTheDefinitionFromFragmentAndDropIn) {
  const auto def = parse_service_definition(split_systemctl_cat(read_fixture("kubelet-systemctl-cat.txt")),
                                            "kubelet.service");
  EXPECT_EQ(def.unit, "kubelet.service");
  EXPECT_EQ(def.exec_start,
            "/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS "
            "$KUBELET_EXTRA_ARGS");
  EXPECT_EQ(def.exec_start_prefixes, "");
  EXPECT_EQ(def.environment_assignments,
            (Argv{"\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf "
                  "--kubeconfig=/etc/kubernetes/kubelet.conf\"",
                  "\"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\""}));
  ASSERT_EQ(def.environment_files.size(), 2u);
  EXPECT_EQ(def.environment_files[0].path, "/var/lib/kubelet/kubeadm-flags.env");
  EXPECT_TRUE(def.environment_files[0].optional);
  EXPECT_EQ(def.environment_files[1].path, "/etc/sysconfig/kubelet");
  EXPECT_TRUE(def.environment_files[1].optional);
  EXPECT_FALSE(def.working_directory);
  EXPECT_FALSE(def.user);
  EXPECT_EQ(def.type, "");
  EXPECT_TRUE(def.warnings.empty());
}

TEST(SystemdKubeadm, CatOutputSplitsIntoTheFixtureFiles) {
  const auto files = split_systemctl_cat(read_fixture("kubelet-systemctl-cat.txt"));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "/lib/systemd/system/kubelet.service");
  EXPECT_EQ(files[0].text, read_fixture("kubelet.service"));
  EXPECT_EQ(files[1].path, "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf");
  EXPECT_EQ(files[1].text, read_fixture("10-kubeadm.conf"));
}

TEST(SystemdKubeadm, ExtraArgsFromSysconfigComeLast) {
  const auto def = parse_service_definition(split_systemctl_cat(read_fixture("kubelet-systemctl-cat.txt")),
                                            "kubelet.service");
  const auto env = effective_environment(
      def, {std::nullopt, std::string("KUBELET_EXTRA_ARGS=--node-ip=10.0.0.2 --v=4\n")});
  EXPECT_EQ(expand_exec_start(def, env),
            (Argv{"/usr/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                  "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml",
                  "--node-ip=10.0.0.2", "--v=4"}));
}

TEST(SystemdKubeadm, FragmentAloneRunsTheBareKubelet) {
  const auto def = parse_service_definition(
      {{"/lib/systemd/system/kubelet.service", read_fixture("kubelet.service")}}, "kubelet.service");
  EXPECT_EQ(expand_exec_start(def, effective_environment(def, {})), Argv{"/usr/bin/kubelet"});
}

// ---- systemctl cat ----

TEST(SystemdCat, IgnoresLinesBeforeTheFirstHeader) {
  const auto files =
      split_systemctl_cat("stray\n\n# /etc/systemd/system/a.service\n[Service]\nExecStart=/a\n");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].path, "/etc/systemd/system/a.service");
  EXPECT_EQ(files[0].text, "[Service]\nExecStart=/a\n");
}

TEST(SystemdCat, PathLikeCommentsInsideAFileAreNotHeaders) {
  const auto files = split_systemctl_cat(
      "# /etc/systemd/system/a.service\n[Service]\n# /etc/default/a\nExecStart=/a\n\n# /var/lib/a is written "
      "by "
      "setup\n\n# /etc/systemd/system/a.service.d/x.conf\n[Service]\nUser=a\n");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].text, "[Service]\n# /etc/default/a\nExecStart=/a\n\n# /var/lib/a is written by setup\n");
  EXPECT_EQ(files[1].path, "/etc/systemd/system/a.service.d/x.conf");
  EXPECT_EQ(files[1].text, "[Service]\nUser=a\n");
}

TEST(SystemdCat, StripsTerminalColoursAndCarriageReturns) {
  const auto files =
      split_systemctl_cat("\x1b[0;1;34m# /etc/systemd/system/a.service\x1b[0m\r\n[Service]\r\n");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].path, "/etc/systemd/system/a.service");
  EXPECT_EQ(files[0].text, "[Service]\n");
}

TEST(SystemdCat, NoHeaderMeansNoFiles) {
  EXPECT_TRUE(split_systemctl_cat("").empty());
  EXPECT_TRUE(split_systemctl_cat("No files found for x.service.\n").empty());
  EXPECT_CONTAINS(error_of([] { parse_service_definition({}, "x.service"); }), "x.service");
}

// ---- unit file syntax ----

TEST(SystemdUnitFile, EmptyExecStartInADropInResetsTheFragment) {
  const auto def =
      parse_service_definition({{"/lib/systemd/system/a.service", "[Service]\nExecStart=/usr/bin/old --x\n"},
                                {"/etc/systemd/system/a.service.d/override.conf",
                                 "[Service]\nExecStart=\nExecStart=/usr/bin/new --y\n"}},
                               "a.service");
  EXPECT_EQ(def.exec_start, "/usr/bin/new --y");
}

TEST(SystemdUnitFile, ResetWithoutANewExecStartNamesUnitAndFile) {
  const auto message = error_of([] {
    parse_service_definition({{"/lib/systemd/system/a.service", "[Service]\nExecStart=/usr/bin/a\n"},
                              {"/etc/systemd/system/a.service.d/off.conf", "[Service]\nExecStart=\n"}},
                             "a.service");
  });
  EXPECT_CONTAINS(message, "a.service");
  EXPECT_CONTAINS(message, "/etc/systemd/system/a.service.d/off.conf line 2");
}

TEST(SystemdUnitFile, NoExecStartAtAllNamesTheFiles) {
  const auto message = error_of([] { parse_one("[Service]\nType=simple\n", "b.service"); });
  EXPECT_CONTAINS(message, "b.service has no ExecStart=");
  EXPECT_CONTAINS(message, "/etc/systemd/system/b.service");
}

TEST(SystemdUnitFile, SeveralExecStartsForASimpleServiceAreRefused) {
  const auto message = error_of([] {
    parse_service_definition(
        {{"/lib/systemd/system/c.service", "[Service]\nExecStart=/usr/bin/a\n"},
         {"/etc/systemd/system/c.service.d/more.conf", "[Service]\nExecStart=/usr/bin/b\n"}},
        "c.service");
  });
  EXPECT_CONTAINS(message, "c.service has 2 ExecStart=");
  EXPECT_CONTAINS(message, "/lib/systemd/system/c.service line 2");
  EXPECT_CONTAINS(message, "/etc/systemd/system/c.service.d/more.conf line 2");
  EXPECT_CONTAINS(message, "Type=oneshot");
}

TEST(SystemdUnitFile, SeveralCommandsOfAOneshotServiceAreRefusedToo) {
  const auto message = error_of(
      [] { parse_one("[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=/bin/b\n", "d.service"); });
  EXPECT_CONTAINS(message, "d.service runs 2 ExecStart= commands one after another");
}

TEST(SystemdUnitFile, SemicolonsSeparateCommandsInOneLine) {
  EXPECT_CONTAINS(error_of([] { parse_one("[Service]\nExecStart=/bin/a one ; /bin/b two\n"); }),
                  "has 2 ExecStart= commands");
  // A trailing lone ';' leaves a single command.
  EXPECT_EQ(parse_one("[Service]\nExecStart=/bin/a one ;\n").exec_start, "/bin/a one");
}

TEST(SystemdUnitFile, EscapedOrAttachedSemicolonsAreArguments) {
  const auto def = parse_one("[Service]\nExecStart=/bin/find . -exec rm {} \\; one;\n");
  EXPECT_EQ(def.exec_start, "/bin/find . -exec rm {} \\; one;");
  EXPECT_EQ(expand_exec_start(def, {}), (Argv{"/bin/find", ".", "-exec", "rm", "{}", ";", "one;"}));
}

TEST(SystemdUnitFile, BackslashContinuesALineWithASpace) {
  const auto def = parse_one("[Service]\nExecStart=/usr/bin/a \\\n    --one \\\n--two\nUser=x\n");
  EXPECT_EQ(expand_exec_start(def, {}), (Argv{"/usr/bin/a", "--one", "--two"}));
  EXPECT_EQ(def.user, "x");
  // The backslash becomes a space, so words on both sides stay apart.
  EXPECT_EQ(expand_exec_start(parse_one("[Service]\nExecStart=/usr/bin/a --x\\\n--y\n"), {}),
            (Argv{"/usr/bin/a", "--x", "--y"}));
}

TEST(SystemdUnitFile, CommentLinesInsideAContinuationAreSkipped) {
  const auto def = parse_one("[Service]\nExecStart=/usr/bin/a \\\n# --not-this\n  ; --nor-this\n  --this\n");
  EXPECT_EQ(expand_exec_start(def, {}), (Argv{"/usr/bin/a", "--this"}));
}

TEST(SystemdUnitFile, EscapedBackslashAtTheEndDoesNotContinue) {
  const auto def = parse_one("[Service]\nExecStart=/usr/bin/a x\\\\\nUser=y\n");
  EXPECT_EQ(expand_exec_start(def, {}), (Argv{"/usr/bin/a", "x\\"}));
  EXPECT_EQ(def.user, "y");
}

TEST(SystemdUnitFile, ContinuationOnTheLastLineStillCounts) {
  EXPECT_EQ(parse_one("[Service]\nExecStart=/usr/bin/a \\").exec_start, "/usr/bin/a");
}

TEST(SystemdUnitFile, HashAndSemicolonCommentsAreIgnored) {
  const auto def = parse_one(
      "# ExecStart=/bin/hash\n[Service]\n; ExecStart=/bin/semicolon\n   # "
      "ExecStart=/bin/indented\nExecStart=/bin/"
      "real\n");
  EXPECT_EQ(def.exec_start, "/bin/real");
}

TEST(SystemdUnitFile, OnlyTheServiceSectionCounts) {
  const auto def = parse_one(
      "ExecStart=/bin/outside\n[Unit]\nExecStart=/bin/unit\nUser=u\n[Service]\nExecStart=/bin/service\n"
      "[Install]\nExecStart=/bin/install\nEnvironment=A=1\n[X-Extra]\nExecStart=/bin/extra\n");
  EXPECT_EQ(def.exec_start, "/bin/service");
  EXPECT_FALSE(def.user);
  EXPECT_TRUE(def.environment_assignments.empty());
}

TEST(SystemdUnitFile, KeysAndSectionsAreCaseSensitive) {
  const auto def =
      parse_one("[Service]\nExecStart=/bin/real\nexecstart=/bin/lower\n[service]\nExecStart=/bin/x\n");
  EXPECT_EQ(def.exec_start, "/bin/real");
}

TEST(SystemdUnitFile, WhitespaceAroundTheEqualsSignIsIgnored) {
  const auto def = parse_one("[Service]\n  ExecStart \t=   /bin/a  b  \nUser = kube\nType= notify\n");
  EXPECT_EQ(def.exec_start, "/bin/a  b");
  EXPECT_EQ(def.user, "kube");
  EXPECT_EQ(def.type, "notify");
}

TEST(SystemdUnitFile, LinesWithoutEqualsAreIgnoredWithAWarning) {
  const auto def = parse_one("[Service]\nExecStart=/bin/a\nnonsense\n");
  ASSERT_EQ(def.warnings.size(), 1u);
  EXPECT_CONTAINS(def.warnings[0], "line 3");
}

TEST(SystemdUnitFile, BadSectionHeaderNamesTheFile) {
  const auto message = error_of([] { parse_one("[Service\nExecStart=/bin/a\n", "e.service"); });
  EXPECT_CONTAINS(message, "e.service");
  EXPECT_CONTAINS(message, "/etc/systemd/system/e.service line 1");
}

TEST(SystemdUnitFile, UnbalancedQuotesInExecStartNameTheFileAndLine) {
  const auto message =
      error_of([] { parse_one("[Service]\nUser=a\nExecStart=/bin/a \"open\n", "f.service"); });
  EXPECT_CONTAINS(message, "f.service");
  EXPECT_CONTAINS(message, "/etc/systemd/system/f.service line 3");
}

TEST(SystemdUnitFile, EnvironmentAndEnvironmentFileResetOnEmptyValues) {
  const auto def = parse_service_definition(
      {{"/lib/systemd/system/g.service",
        "[Service]\nEnvironment=A=1\nEnvironmentFile=/etc/default/g\nExecStart=/bin/g\n"},
       {"/etc/systemd/system/g.service.d/x.conf",
        "[Service]\nEnvironment=\nEnvironment=B=2\nEnvironmentFile=\nEnvironmentFile=-/etc/g.env\n"}},
      "g.service");
  EXPECT_EQ(def.environment_assignments, Argv{"B=2"});
  ASSERT_EQ(def.environment_files.size(), 1u);
  EXPECT_EQ(def.environment_files[0].path, "/etc/g.env");
  EXPECT_TRUE(def.environment_files[0].optional);
}

TEST(SystemdUnitFile, EnvironmentFilePathsResolveSpecifiersAndMustBeAbsolute) {
  const auto def = parse_one(
      "[Service]\nExecStart=/bin/a\nEnvironmentFile=/etc/%p/%i.env\nEnvironmentFile=relative.env\n"
      "EnvironmentFile=-/etc//x/./y.env\n",
      "agent@eth0.service");
  ASSERT_EQ(def.environment_files.size(), 2u);
  EXPECT_EQ(def.environment_files[0].path, "/etc/agent/eth0.env");
  EXPECT_FALSE(def.environment_files[0].optional);
  EXPECT_EQ(def.environment_files[1].path, "/etc/x/y.env");
  ASSERT_EQ(def.warnings.size(), 1u);
  EXPECT_CONTAINS(def.warnings[0], "relative.env");
}

TEST(SystemdUnitFile, PrefixesAreSplitOffTheCommandLine) {
  auto def = parse_one("[Service]\nExecStart=-/usr/bin/x --a\n");
  EXPECT_EQ(def.exec_start, "/usr/bin/x --a");
  EXPECT_EQ(def.exec_start_prefixes, "-");
  def = parse_one("[Service]\nExecStart=+:-/usr/bin/x $A\n");
  EXPECT_EQ(def.exec_start, "/usr/bin/x $A");
  EXPECT_EQ(def.exec_start_prefixes, "+:-");
  def = parse_one("[Service]\nExecStart=!!-/usr/bin/x\n");
  EXPECT_EQ(def.exec_start, "/usr/bin/x");
  EXPECT_EQ(def.exec_start_prefixes, "!!-");
  def = parse_one("[Service]\nExecStart=\"-/usr/bin/with space\" a\n");
  EXPECT_EQ(def.exec_start, "\"/usr/bin/with space\" a");
  EXPECT_EQ(def.exec_start_prefixes, "-");
}

TEST(SystemdUnitFile, ArgvZeroPrefixIsReportedAsAWarning) {
  const auto def = parse_one("[Service]\nExecStart=@/usr/sbin/daemon my-daemon --fg\n");
  EXPECT_EQ(def.exec_start_prefixes, "@");
  EXPECT_EQ(expand_exec_start(def, {}), (Argv{"/usr/sbin/daemon", "--fg"}));
  ASSERT_EQ(def.warnings.size(), 1u);
  EXPECT_CONTAINS(def.warnings[0], "argv[0]");
}

TEST(SystemdUnitFile, WorkingDirectoryUserAndTypeFollowTheLastAssignment) {
  auto def = parse_service_definition(
      {{"/lib/systemd/system/h.service",
        "[Service]\nExecStart=/bin/h\nWorkingDirectory=-/var/lib/h\nUser=h\nType=notify\n"},
       {"/etc/systemd/system/h.service.d/x.conf", "[Service]\nUser=\nType=exec\n"}},
      "h.service");
  EXPECT_EQ(def.working_directory, "/var/lib/h");
  EXPECT_FALSE(def.user);
  EXPECT_EQ(def.type, "exec");
  def = parse_one("[Service]\nExecStart=/bin/h\nWorkingDirectory=~\nWorkingDirectory=\n");
  EXPECT_FALSE(def.working_directory);
}

// ---- Environment= ----

TEST(SystemdEnvironment, ManPageExample) {
  // systemd.exec(5), Environment=.
  EXPECT_EQ(parse_environment_assignments(R"("VAR1=word1 word2" VAR2=word3 "VAR3=$word 5 6")"),
            (EnvList{{"VAR1", "word1 word2"}, {"VAR2", "word3"}, {"VAR3", "$word 5 6"}}));
}

TEST(SystemdEnvironment, SingleQuotesAndQuotesInsideAWord) {
  EXPECT_EQ(parse_environment_assignments(R"('A=x y' B="1 2" C='' D=a"b c"d)"),
            (EnvList{{"A", "x y"}, {"B", "1 2"}, {"C", ""}, {"D", "ab cd"}}));
}

TEST(SystemdEnvironment, CEscapes) {
  EXPECT_EQ(
      parse_environment_assignments(R"("A=a\tb" "B=\"q\"" C=\x41\101\u00e9 D=x\sy E=back\\slash)"),
      (EnvList{{"A", "a\tb"}, {"B", "\"q\""}, {"C", "AA\xc3\xa9"}, {"D", "x y"}, {"E", "back\\slash"}}));
}

TEST(SystemdEnvironment, InvalidAssignmentsAreSkipped) {
  EXPECT_EQ(parse_environment_assignments("1A=x A-B=x NOEQUALS =x _ok=1 B9=2 \"\""),
            (EnvList{{"_ok", "1"}, {"B9", "2"}}));
}

TEST(SystemdEnvironment, BadSyntaxDropsTheRestOfTheLine) {
  EXPECT_EQ(parse_environment_assignments(R"(A=1 B=\q C=3)"), (EnvList{{"A", "1"}}));
  EXPECT_EQ(parse_environment_assignments(R"(A=1 "B=2 C=3)"), (EnvList{{"A", "1"}}));
}

TEST(SystemdEnvironment, LaterAssignmentOverridesAndKeepsItsPlace) {
  EXPECT_EQ(parse_environment_assignments("A=1 B=2 A=3"), (EnvList{{"A", "3"}, {"B", "2"}}));
}

TEST(SystemdEnvironment, SpecifiersAreResolvedOnlyWithAUnit) {
  EXPECT_EQ(parse_environment_assignments("NAME=%n PCT=%%", "web@blue.service"),
            (EnvList{{"NAME", "web@blue.service"}, {"PCT", "%"}}));
  EXPECT_EQ(parse_environment_assignments("NAME=%n"), (EnvList{{"NAME", "%n"}}));
  EXPECT_CONTAINS(error_of([] { parse_environment_assignments("HOST=%H", "web.service"); }), "%H");
}

// ---- EnvironmentFile= ----

TEST(SystemdEnvironmentFile, KeyValueLinesCommentsAndBlankLines) {
  EXPECT_EQ(parse_environment_file("# comment\n; other comment\n\nA=1\n  B = two words  \n\t\nC=3"),
            (EnvList{{"A", "1"}, {"B", "two words"}, {"C", "3"}}));
}

TEST(SystemdEnvironmentFile, SingleQuotesAreVerbatimAndMaySpanLines) {
  EXPECT_EQ(parse_environment_file("A='x \\n $y'\nB='line1\nline2'  \n"),
            (EnvList{{"A", "x \\n $y"}, {"B", "line1\nline2"}}));
}

TEST(SystemdEnvironmentFile, DoubleQuotesFollowShellEscapes) {
  EXPECT_EQ(parse_environment_file("A=\"q\\\" b\\\\ d\\$ t\\` n\\n\"\nB=\"one\\\ntwo\"\nC=\" kept \"\n"),
            (EnvList{{"A", "q\" b\\ d$ t` n\\n"}, {"B", "onetwo"}, {"C", " kept "}}));
}

TEST(SystemdEnvironmentFile, UnquotedBackslashesEscapeAndContinue) {
  EXPECT_EQ(parse_environment_file("A=one \\\n  two\nB=a\\ \\\\b\\$\nC=trail\\ \n"),
            (EnvList{{"A", "one   two"}, {"B", "a \\b$"}, {"C", "trail "}}));
}

TEST(SystemdEnvironmentFile, QuotesAfterTheValueStartAreKept) {
  // systemd.exec(5): "quotes after the first non-whitespace character are preserved".
  EXPECT_EQ(parse_environment_file("A=x \"y\"\nB=\"x\" y\nC=x # not a comment\n"),
            (EnvList{{"A", "x \"y\""}, {"B", "xy"}, {"C", "x # not a comment"}}));
}

TEST(SystemdEnvironmentFile, InvalidLinesAreSkippedAndLaterOverridesEarlier) {
  EXPECT_EQ(parse_environment_file("A=1\nNOEQUALS\nexport B=2\n9C=3\nA=4\nD=\n"),
            (EnvList{{"A", "4"}, {"D", ""}}));
}

TEST(SystemdEnvironmentFile, CommentEndingInBackslashDoesNotSwallowTheNextLine) {
  EXPECT_EQ(parse_environment_file("# comment \\\nA=1\n"), (EnvList{{"A", "1"}}));
}

TEST(SystemdEnvironmentFile, CarriageReturnsEndLines) {
  EXPECT_EQ(parse_environment_file("A=1\r\nB=\"2\"\r\n"), (EnvList{{"A", "1"}, {"B", "2"}}));
}

TEST(SystemdEnvironmentFile, InvalidUtf8RejectsTheFile) {
  EXPECT_CONTAINS(error_of([] { parse_environment_file("A=1\nB=\xff\n"); }), "UTF-8");
}

// ---- the effective environment ----

ServiceDefinition with_environment(std::vector<std::string> assignments,
                                   std::vector<EnvironmentFileRef> files) {
  ServiceDefinition def;
  def.unit = "env.service";
  def.exec_start = "/bin/env";
  def.environment_assignments = std::move(assignments);
  def.environment_files = std::move(files);
  return def;
}

TEST(SystemdEffectiveEnvironment, FilesOverrideEnvironmentAndLaterFilesOverrideEarlier) {
  const auto def = with_environment({"A=env B=env", "C=env"}, {{"/one", false}, {"/two", true}});
  EXPECT_EQ(effective_environment(def, {std::string("B=one\nC=one\nD=one\n"), std::string("C=two\n")}),
            (EnvList{{"A", "env"}, {"B", "one"}, {"C", "two"}, {"D", "one"}}));
}

TEST(SystemdEffectiveEnvironment, MissingOptionalFileIsSkipped) {
  const auto def = with_environment({"A=1"}, {{"/missing", true}, {"/present", false}});
  EXPECT_EQ(effective_environment(def, {std::nullopt, std::string("B=2")}),
            (EnvList{{"A", "1"}, {"B", "2"}}));
}

TEST(SystemdEffectiveEnvironment, MissingRequiredFileNamesTheFileAndUnit) {
  const auto def = with_environment({}, {{"/etc/default/env", false}});
  const auto message = error_of([&] { effective_environment(def, {std::nullopt}); });
  EXPECT_CONTAINS(message, "env.service");
  EXPECT_CONTAINS(message, "/etc/default/env");
}

TEST(SystemdEffectiveEnvironment, UnreadableOptionalFileIsSkippedButARequiredOneFails) {
  EXPECT_EQ(effective_environment(with_environment({"A=1"}, {{"/bad", true}}), {std::string("A=\xff")}),
            (EnvList{{"A", "1"}}));
  EXPECT_CONTAINS(error_of([] {
                    effective_environment(with_environment({}, {{"/bad", false}}), {std::string("A=\xff")});
                  }),
                  "/bad");
}

TEST(SystemdEffectiveEnvironment, TextsMustMatchTheFiles) {
  EXPECT_CONTAINS(error_of([] {
                    effective_environment(with_environment({}, {{"/a", true}}), {});
                  }),
                  "env.service");
}

TEST(SystemdEffectiveEnvironment, EnvironmentResolvesTheUnitsSpecifiers) {
  auto def = with_environment({"INSTANCE=%i"}, {});
  def.unit = "worker@7.service";
  EXPECT_EQ(effective_environment(def, {}), (EnvList{{"INSTANCE", "7"}}));
}

// ---- ExecStart= ----

const EnvList kEnv = {{"ONE", "one"},         {"TWO", "two two"},        {"THREE", ""},
                      {"SPACES", "  a  b  "}, {"QUOTED", "'x y' \"z\""}, {"BACKSLASH", "a\\ b c"}};

TEST(SystemdExecStart, DollarWordSplitsAtWhitespace) {
  EXPECT_EQ(expand_exec_start("/bin/echo $TWO $SPACES $QUOTED $BACKSLASH", kEnv, "x.service"),
            (Argv{"/bin/echo", "two", "two", "a", "b", "x y", "z", "a b", "c"}));
}

TEST(SystemdExecStart, UnsetOrEmptyDollarWordGivesNoWords) {
  EXPECT_EQ(expand_exec_start("/bin/echo $UNSET $THREE end", kEnv, "x.service"), (Argv{"/bin/echo", "end"}));
}

TEST(SystemdExecStart, DollarWordWithAnInvalidNameGivesNoWords) {
  // replace_env_argv() takes the rest of the word as the name, so "$ONE-x" names no variable at all.
  EXPECT_EQ(expand_exec_start("/bin/echo $ONE-x $ a", kEnv, "x.service"), (Argv{"/bin/echo", "a"}));
}

TEST(SystemdExecStart, BracedVariableIsReplacedInsideAWordWithoutSplitting) {
  EXPECT_EQ(
      expand_exec_start("/bin/echo --two=${TWO} ${TWO} pre${ONE}post ${UNSET} x${THREE}y", kEnv, "x.service"),
      (Argv{"/bin/echo", "--two=two two", "two two", "preonepost", "", "xy"}));
}

TEST(SystemdExecStart, OnlyBracedVariablesExpandInsideWords) {
  EXPECT_EQ(expand_exec_start("/bin/echo a$ONE ${ONE ${ONE:-d} ${1X}", kEnv, "x.service"),
            (Argv{"/bin/echo", "a$ONE", "${ONE", "${ONE:-d}", ""}));
}

TEST(SystemdExecStart, DoubleDollarIsALiteralDollar) {
  EXPECT_EQ(expand_exec_start("/bin/echo $$ONE a$$b $${ONE} $$$ONE", kEnv, "x.service"),
            (Argv{"/bin/echo", "$ONE", "a$b", "${ONE}", "$$ONE"}));
}

TEST(SystemdExecStart, ManPageExamples) {
  // systemd.service(5), "Command lines".
  const auto first = parse_environment_assignments(R"("ONE=one" 'TWO=two two')");
  EXPECT_EQ(expand_exec_start("/bin/echo $ONE $TWO ${TWO}", first, "x.service"),
            (Argv{"/bin/echo", "one", "two", "two", "two two"}));
  const auto second = parse_environment_assignments(R"(ONE='one' "TWO='two two' too" THREE=)");
  EXPECT_EQ(expand_exec_start("/bin/echo ${ONE} ${TWO} ${THREE}", second, "x.service"),
            (Argv{"/bin/echo", "one", "'two two' too", ""}));
  EXPECT_EQ(expand_exec_start("/bin/echo $ONE $TWO $THREE", second, "x.service"),
            (Argv{"/bin/echo", "one", "two two", "too"}));
}

TEST(SystemdExecStart, QuotesDoNotProtectADollarWord) {
  // Quotes are removed when the unit is loaded; the variables are expanded later, on the bare words.
  EXPECT_EQ(expand_exec_start("/bin/echo \"$TWO\" '${TWO}'", kEnv, "x.service"),
            (Argv{"/bin/echo", "two", "two", "two two"}));
}

TEST(SystemdExecStart, QuotingAndEscapes) {
  // "\ " and "\d" are not escapes systemd.syntax(7) lists; systemd keeps them verbatim (with a warning).
  EXPECT_EQ(expand_exec_start(R"(/bin/x "a b" 'c d' --e="f g" h\ i "j\"k" 'l\'m' \x41\s\101 \d "" end\)", {},
                              "x.service"),
            (Argv{"/bin/x", "a b", "c d", "--e=f g", "h\\ i", "j\"k", "l'm", "A A", "\\d", "", "end\\"}));
}

TEST(SystemdExecStart, ShellSyntaxIsPassedAsArguments) {
  EXPECT_EQ(expand_exec_start("/bin/echo / >/dev/null & \\; ls", {}, "x.service"),
            (Argv{"/bin/echo", "/", ">/dev/null", "&", ";", "ls"}));
}

TEST(SystemdExecStart, TheProgramIsNeverVariableExpanded) {
  EXPECT_EQ(expand_exec_start("/opt/$ONE/bin/x ${ONE}", kEnv, "x.service"), (Argv{"/opt/$ONE/bin/x", "one"}));
  EXPECT_CONTAINS(error_of([] { expand_exec_start("$ONE --x", kEnv, "y.service"); }), "y.service");
}

TEST(SystemdExecStart, BareProgramNamesAreLeftForTheCallerToResolve) {
  EXPECT_EQ(expand_exec_start("kubelet --v=2", {}, "x.service"), (Argv{"kubelet", "--v=2"}));
  EXPECT_EQ(expand_exec_start("/usr//bin/./kubelet", {}, "x.service"), Argv{"/usr/bin/kubelet"});
  EXPECT_CONTAINS(error_of([] { expand_exec_start("bin/kubelet", {}, "z.service"); }), "z.service");
  EXPECT_CONTAINS(error_of([] { expand_exec_start("/usr/bin/", {}, "z.service"); }), "/usr/bin/");
}

TEST(SystemdExecStart, PrefixesInTheCommandLineAreHonoured) {
  EXPECT_EQ(expand_exec_start("-/usr/bin/x $ONE", kEnv, "x.service"), (Argv{"/usr/bin/x", "one"}));
  EXPECT_EQ(expand_exec_start(":/bin/echo $ONE ${TWO} $$", kEnv, "x.service"),
            (Argv{"/bin/echo", "$ONE", "${TWO}", "$$"}));
  EXPECT_EQ(expand_exec_start("@/bin/x name --a", kEnv, "x.service"), (Argv{"/bin/x", "--a"}));
  // '+' and '!' exclude each other, so the '!' is part of the program, which is then not a valid path.
  EXPECT_CONTAINS(error_of([] { expand_exec_start("+!/bin/x", {}, "p.service"); }), "!/bin/x");
  EXPECT_CONTAINS(error_of([] { expand_exec_start("-", {}, "p.service"); }), "p.service");
  EXPECT_CONTAINS(error_of([] { expand_exec_start("@/bin/x", {}, "p.service"); }), "argv[0]");
}

TEST(SystemdExecStart, DefinitionPrefixesAreHonoured) {
  ServiceDefinition def;
  def.unit = "x.service";
  def.exec_start = "/bin/echo $ONE";
  def.exec_start_prefixes = "-:";
  EXPECT_EQ(expand_exec_start(def, kEnv), (Argv{"/bin/echo", "$ONE"}));
  // The stored command line has its prefixes removed already, so a '-' left in it is part of the program.
  def.exec_start = "-/bin/echo";
  def.exec_start_prefixes = "-";
  EXPECT_CONTAINS(error_of([&] { expand_exec_start(def, kEnv); }), "-/bin/echo");
}

TEST(SystemdExecStart, SeveralCommandsOrBadQuotingNameTheUnit) {
  EXPECT_CONTAINS(error_of([] { expand_exec_start("/bin/a ; /bin/b", {}, "q.service"); }), "q.service");
  EXPECT_CONTAINS(error_of([] { expand_exec_start("/bin/a 'open", {}, "q.service"); }), "q.service");
  EXPECT_CONTAINS(error_of([] { expand_exec_start("   ", {}, "q.service"); }), "q.service");
}

TEST(SystemdExecStart, UnitNameSpecifiers) {
  EXPECT_EQ(expand_exec_start("/bin/x %n %N %p %i %I %j %J %f 100%% %", {}, R"(getty-vt@tty\x2d1-a.service)"),
            (Argv{"/bin/x", R"(getty-vt@tty\x2d1-a.service)", R"(getty-vt@tty\x2d1-a)", "getty-vt",
                  R"(tty\x2d1-a)", "tty-1/a", "vt", "vt", "/tty-1/a", "100%", "%"}));
  EXPECT_EQ(expand_exec_start("/bin/x %n %N %p %P %i %f %j", {}, "kube-proxy.service"),
            (Argv{"/bin/x", "kube-proxy.service", "kube-proxy", "kube-proxy", "kube/proxy", "", "/kube/proxy",
                  "proxy"}));
}

TEST(SystemdExecStart, SpecifiersInTheProgramAndBeforeVariables) {
  const EnvList env = {{"A", "x y"}};
  EXPECT_EQ(expand_exec_start("/opt/%p/bin/%p $%i", env, "tool@A.service"),
            (Argv{"/opt/tool/bin/tool", "x", "y"}));
}

TEST(SystemdExecStart, SystemManagerSpecifiers) {
  EXPECT_EQ(expand_exec_start("/bin/x %h %u %U %g %G %t %S %C %L %E %T %V", {}, "x.service"),
            (Argv{"/bin/x", "/root", "root", "0", "root", "0", "/run", "/var/lib", "/var/cache", "/var/log",
                  "/etc", "/tmp", "/var/tmp"}));
}

TEST(SystemdExecStart, NodeDependentAndUnknownSpecifiersAreErrorsNamingTheUnit) {
  auto message = error_of([] { expand_exec_start("/bin/x --hostname-override=%H", {}, "kubelet.service"); });
  EXPECT_CONTAINS(message, "kubelet.service");
  EXPECT_CONTAINS(message, "%H");
  EXPECT_CONTAINS(message, "kdap cannot resolve");
  message = error_of([] { expand_exec_start("/bin/x %Z", {}, "kubelet.service"); });
  EXPECT_CONTAINS(message, "unknown specifier %Z");
  EXPECT_EQ(expand_exec_start("/bin/x %- %/", {}, "x.service"), (Argv{"/bin/x", "%-", "%/"}));
}

TEST(SystemdExecStart, ResolveSpecifiersForOtherSettings) {
  EXPECT_EQ(resolve_specifiers("%S/%N", "etcd@main.service"), "/var/lib/etcd@main");
  EXPECT_CONTAINS(error_of([] { resolve_specifiers("%m", "etcd.service"); }), "etcd.service");
}

}  // namespace
}  // namespace kdap::targets

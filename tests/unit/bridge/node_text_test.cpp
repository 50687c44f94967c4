#include <gtest/gtest.h>
#include <libssh/libssh.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <string>

#include "bridge/node/node.h"
#include "bridge/node/process_table.h"
#include "bridge/node/proxy_command.h"
#include "bridge/node/shell.h"
#include "bridge/node/ssh_ciphers.h"
#include "bridge/node/ssh_destination.h"

namespace kdap::node {
namespace {

std::string sh_echo(const std::string& word) {
  std::string cmd = "printf %s " + shell_quote(word);
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[256];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(Shell, QuotingSurvivesARealShell) {
  for (std::string word : {"plain", "--flag=a,b", "with space", "it's", "$(rm -rf /)", "`x`", "a\"b\\c",
                           "new\nline", "*", "", "-n"}) {
    EXPECT_EQ(sh_echo(word), word) << word;
  }
  EXPECT_EQ(shell_quote("--v=2"), "--v=2");
  EXPECT_EQ(shell_join({"a b", "c"}), "'a b' c");
}

TEST(SshDestination, Forms) {
  auto d = parse_ssh_destination("root@10.0.0.1:2222");
  EXPECT_EQ(d.user, "root");
  EXPECT_EQ(d.host, "10.0.0.1");
  EXPECT_EQ(d.port, 2222u);
  d = parse_ssh_destination("node-alias");
  EXPECT_FALSE(d.user);
  EXPECT_EQ(d.host, "node-alias");
  EXPECT_FALSE(d.port);
  d = parse_ssh_destination("admin@[::1]:22");
  EXPECT_EQ(d.host, "::1");
  EXPECT_EQ(d.port, 22u);
  EXPECT_THROW(parse_ssh_destination("host:0"), std::invalid_argument);
  EXPECT_THROW(parse_ssh_destination("host:99999"), std::invalid_argument);
  EXPECT_THROW(parse_ssh_destination("host:ssh"), std::invalid_argument);
  EXPECT_THROW(parse_ssh_destination("@host"), std::invalid_argument);
  EXPECT_THROW(parse_ssh_destination("::1"), std::invalid_argument);
  EXPECT_THROW(parse_ssh_destination("user@"), std::invalid_argument);
}

TEST(ProcessTable, ParsesGrepDumpWithExactArgumentBoundaries) {
  using namespace std::string_literals;
  auto dump =
      "/proc/12/cmdline:kube-scheduler\0/proc/12/cmdline:--v=2\0/proc/12/cmdline:a b\0"
      "/proc/7/cmdline:sh\0/proc/7/cmdline:\0/proc/7/cmdline:x:y\0junk\0"s;
  auto procs = parse_cmdline_dump(dump);
  ASSERT_EQ(procs.size(), 2u);
  EXPECT_EQ(procs[0].pid, 7);
  EXPECT_EQ(procs[0].argv, (std::vector<std::string>{"sh", "", "x:y"}));
  EXPECT_EQ(procs[1].pid, 12);
  EXPECT_EQ(procs[1].argv, (std::vector<std::string>{"kube-scheduler", "--v=2", "a b"}));
}

std::vector<std::string> cipher_names(const std::string& list) {
  std::vector<std::string> names;
  std::stringstream in(list);
  for (std::string name; std::getline(in, name, ',');) names.push_back(name);
  return names;
}

TEST(SshCiphers, AesGcmFirstOnlyWithAesInstructionsAndAlwaysTheSameAlgorithms) {
  auto with = cipher_names(ciphers_for(true));
  auto without = cipher_names(ciphers_for(false));
  EXPECT_EQ(with.front().rfind("aes", 0), 0u);
  EXPECT_EQ(without.front(), "chacha20-poly1305@openssh.com");
  EXPECT_EQ(std::set(with.begin(), with.end()), std::set(without.begin(), without.end()));
  // libssh drops what it does not know and fails only when nothing is left; every name must be one it knows.
  for (const auto& name : with) {
    ssh_session s = ssh_new();
    EXPECT_EQ(ssh_options_set(s, SSH_OPTIONS_CIPHERS_C_S, name.c_str()), SSH_OK) << name;
    ssh_free(s);
  }
}

TEST(ProxyCommandTokens, ExpandsAsOpenSshDoes) {
  ProxyTokens t{"10.0.0.5", "2222", "root", "worker-1"};
  // libssh's form of `ProxyJump bob@jump:2200`
  EXPECT_EQ(expand_proxy_command("ssh -l bob -p 2200 -W '[%h]:%p' jump", t),
            "ssh -l bob -p 2200 -W '[10.0.0.5]:2222' jump");
  EXPECT_EQ(expand_proxy_command("connect %r@%n 100%% %h%p", t), "connect root@worker-1 100% 10.0.0.52222");
  EXPECT_EQ(expand_proxy_command("no tokens", t), "no tokens");
}

TEST(ProxyCommandTokens, UnknownOrDanglingTokenIsAnError) {
  ProxyTokens t{"h", "22", "u", "n"};
  EXPECT_THROW(expand_proxy_command("nc %d %p", t), NodeError);
  EXPECT_THROW(expand_proxy_command("nc %h %", t), NodeError);
  try {
    expand_proxy_command("nc %C", t);
    ADD_FAILURE() << "an unknown token was accepted";
  } catch (const NodeError& e) {
    EXPECT_NE(std::string(e.what()).find("%C"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kdap::node

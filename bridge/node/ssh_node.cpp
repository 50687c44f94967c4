#include "bridge/node/ssh_node.h"

#include <deque>

#include <pwd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/proxy_command.h"
#include "bridge/node/shell.h"
#include "bridge/node/ssh_channel.h"
#include "bridge/node/ssh_ciphers.h"
#include "bridge/node/ssh_destination.h"
#include "bridge/util/timeout.h"

namespace kdap::node {

// Exec channels whose login shell has already started, waiting for the command start() gives them: the user's
// login shell (with its rc files) then starts while kdap does other work, not when dlv or the guard must run.
// All on the core's strand.
struct SpareChannels {
  explicit SpareChannels(const asio::any_io_executor& ex)
      : changed(ex, asio::steady_timer::time_point::max()) {}
  struct Spare {
    std::unique_ptr<SshChannel> channel;
    std::string go;  // the line that ends the command it is given: random, so no command line can be it
  };
  std::deque<Spare> ready;
  int starting = 0;            // spares whose login shell has not answered yet
  asio::steady_timer changed;  // cancelled whenever a spare becomes ready or gives up
  void settled() {
    --starting;
    changed.cancel();
  }
};

namespace {

std::string expand_home(const std::string& path) {
  if (path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + path.substr(1);
  }
  return path;
}

std::string libssh_error(ssh_session s) {
  const char* e = ssh_get_error(s);
  return e && *e ? e : "unknown libssh error";
}

std::string known_hosts_name(const std::string& host, unsigned port) {
  return port == 22 ? host : "[" + host + "]:" + std::to_string(port);
}

std::string server_fingerprint(ssh_session s) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(s, &raw) != SSH_OK) return "(unknown)";
  SshKeyPtr key(raw);
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != 0) return "(unknown)";
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  std::string result = text ? text : "(unknown)";
  ssh_string_free_char(text);
  return std::string(ssh_key_type_to_char(ssh_key_type(key.get()))) + " " + result;
}

void verify_host_key(ssh_session s, const std::string& host, unsigned port, const std::string& known_hosts) {
  std::string entry = known_hosts_name(host, port);
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      return;
    case SSH_KNOWN_HOSTS_CHANGED:
      throw NodeError(
          "the host key of " + entry + " has CHANGED since it was recorded in " + known_hosts +
          " (it now presents " + server_fingerprint(s) +
          "). This can mean the node was reinstalled, or that someone is intercepting the "
          "connection. kdap refuses to connect. If the change is expected, remove the old key with "
          "`ssh-keygen -R '" +
          entry + "' -f " + known_hosts +
          "` and connect once with ssh to record "
          "the new one after checking its fingerprint.");
    case SSH_KNOWN_HOSTS_OTHER:
      throw NodeError("the host " + entry + " presents a key of another type than the one recorded in " +
                      known_hosts + " (" + server_fingerprint(s) +
                      "). kdap refuses to connect; check the node's host keys and update " + known_hosts +
                      ".");
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      throw NodeError("the host key of " + entry + " is not in " + known_hosts + " (the node presents " +
                      server_fingerprint(s) +
                      "). kdap only connects to known hosts: check the fingerprint on the node "
                      "(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then add it, e.g. by connecting "
                      "once with `ssh -p " +
                      std::to_string(port) + " " + host +
                      "`, or set knownHostsFile in the launch configuration.");
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      throw NodeError("cannot check the host key of " + entry + " against " + known_hosts + ": " +
                      libssh_error(s));
  }
}

template <class Step>
asio::awaitable<int> retry(SshSessionCore& core, Step step, int again) {
  for (;;) {
    int rc = step();
    if (rc != again) co_return rc;
    co_await core.wait_socket();
  }
}

asio::awaitable<void> authenticate(SshSessionCore& core, const SshOptions& options, const std::string& who) {
  ssh_session s = core.session();
  int rc = SSH_AUTH_DENIED;
  std::string tried;
  if (options.identity_file) {
    std::string path = expand_home(*options.identity_file);
    ssh_key raw = nullptr;
    int import = ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &raw);
    if (import != SSH_OK) {
      throw NodeError(
          "cannot read the identity file " + path +
          ": it is missing, unreadable or passphrase-protected. Fix identityFile, or load the key "
          "into ssh-agent and leave identityFile out.");
    }
    SshKeyPtr key(raw);
    rc = co_await retry(
        core, [&] { return ssh_userauth_publickey(s, nullptr, key.get()); }, SSH_AUTH_AGAIN);
    tried = "the identity file " + path;
  } else {
    rc = co_await retry(
        core, [&] { return ssh_userauth_publickey_auto(s, nullptr, nullptr); }, SSH_AUTH_AGAIN);
    tried = "ssh-agent and the default identity files";
  }
  if (rc == SSH_AUTH_SUCCESS) co_return;
  if (rc == SSH_AUTH_ERROR) throw NodeError("authentication with " + who + " failed: " + libssh_error(s));
  throw NodeError(
      "authentication with " + who + " failed: the node accepted no key from " + tried +
      ". Add your public key to the user's ~/.ssh/authorized_keys on the node, or set identityFile "
      "to the matching private key.");
}

}  // namespace

SshNode::SshNode(asio::any_io_executor ex, std::shared_ptr<SshSessionCore> core)
    : ex_(std::move(ex)),
      core_(std::move(core)),
      shell_(std::make_shared<CommandShell>(core_)),
      spares_(std::make_shared<SpareChannels>(core_->strand())) {}

SshNode::~SshNode() {
  close();
}

void SshNode::close() {
  if (core_) core_->shutdown();
}

asio::awaitable<std::unique_ptr<SshNode>> SshNode::connect(asio::any_io_executor ex, SshOptions options) {
  SshDestination dest;
  try {
    dest = parse_ssh_destination(options.host);
  } catch (const std::invalid_argument& e) {
    throw NodeError(e.what());
  }
  SshSessionPtr session(ssh_new());
  if (!session) throw NodeError("libssh could not create a session");
  ssh_session s = session.get();
  ssh_options_set(s, SSH_OPTIONS_HOST, dest.host.c_str());
  if (auto ciphers = preferred_ciphers()) {
    // Before the configuration is read, so that its `Ciphers` line replaces this.
    ssh_options_set(s, SSH_OPTIONS_CIPHERS_C_S, ciphers->c_str());
    ssh_options_set(s, SSH_OPTIONS_CIPHERS_S_C, ciphers->c_str());
  }
  std::string config = expand_home(options.ssh_config_file.value_or("~/.ssh/config"));
  if (options.ssh_config_file && ::access(config.c_str(), R_OK) != 0) {
    throw NodeError("the SSH configuration file " + config +
                    " (sshConfigFile) does not exist or is unreadable");
  }
  if (ssh_options_parse_config(s, config.c_str()) != SSH_OK) {
    throw NodeError("cannot parse the SSH configuration " + config + ": " + libssh_error(s));
  }
  // What the launch configuration says beats ~/.ssh/config, as on ssh's command line.
  if (dest.user) ssh_options_set(s, SSH_OPTIONS_USER, dest.user->c_str());
  if (dest.port) ssh_options_set(s, SSH_OPTIONS_PORT, &*dest.port);
  std::string known_hosts = expand_home(options.known_hosts_file.value_or("~/.ssh/known_hosts"));
  ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts.c_str());
  if (options.known_hosts_file) ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
  int strict = 1;
  ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &strict);

  char* host_raw = nullptr;
  ssh_options_get(s, SSH_OPTIONS_HOST, &host_raw);
  std::string hostname = host_raw ? host_raw : dest.host;
  ssh_string_free_char(host_raw);
  unsigned port = 22;
  ssh_options_get_port(s, &port);
  char* user_raw = nullptr;
  ssh_options_get(s, SSH_OPTIONS_USER, &user_raw);
  std::string user = user_raw ? user_raw : "";
  if (user.empty()) {
    // libssh fills in the local user name only when it connects; messages want it now.
    if (const passwd* pw = ::getpwuid(::geteuid())) user = pw->pw_name;
  }
  ssh_string_free_char(user_raw);
  std::string who = user + "@" + hostname + ":" + std::to_string(port);

  char* proxy_raw = nullptr;
  std::string proxy_template;
  if (ssh_options_get(s, SSH_OPTIONS_PROXYCOMMAND, &proxy_raw) == SSH_OK && proxy_raw)
    proxy_template = proxy_raw;
  ssh_string_free_char(proxy_raw);
  if (!proxy_template.empty() && proxy_template != "none") {
    auto command = expand_proxy_command(proxy_template, {hostname, std::to_string(port), user, dest.host});
    co_return co_await connect_over(ex, std::move(session), options,
                                    std::make_shared<ProxyCommand>(ex, command), hostname, port, known_hosts,
                                    who);
  }

  asio::ip::tcp::socket socket(ex);
  auto dial = [&]() -> asio::awaitable<void> {
    asio::ip::tcp::resolver resolver(ex);
    auto endpoints = co_await resolver.async_resolve(hostname, std::to_string(port), asio::use_awaitable);
    co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
  };
  try {
    co_await with_timeout(dial(), options.connect_timeout, "connecting to " + who);
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::connection_refused) {
      throw NodeError("the connection to " + who +
                      " was refused: no SSH server listens there. Check host and port in the launch "
                      "configuration (or ~/.ssh/config) and that sshd runs on the node.");
    }
    throw NodeError("cannot reach " + who + ": " + e.code().message() + ". Check host and port.");
  } catch (const TimeoutError& e) {
    throw NodeError(std::string(e.what()) + ". Check that the node is up and reachable from here.");
  }
  socket.set_option(asio::ip::tcp::no_delay(true));
  co_return co_await connect_over(ex, std::move(session), options, socket.release(), hostname, port,
                                  known_hosts, who);
}

asio::awaitable<std::unique_ptr<SshNode>> SshNode::connect_over(asio::any_io_executor ex,
                                                                SshSessionPtr session, SshOptions options,
                                                                int fd, std::string hostname, unsigned port,
                                                                std::string known_hosts, std::string who) {
  ssh_session s = session.get();
  ssh_options_set(s, SSH_OPTIONS_FD, &fd);
  ssh_set_blocking(s, 0);
  auto core = std::make_shared<SshSessionCore>(ex, std::move(session), fd, who);

  auto handshake = [&]() -> asio::awaitable<void> {
    int rc = co_await retry(
        *core, [&] { return ssh_connect(s); }, SSH_AGAIN);
    if (rc != SSH_OK) throw NodeError("SSH handshake with " + who + " failed: " + libssh_error(s));
    verify_host_key(s, hostname, port, known_hosts);
    co_await authenticate(*core, options, who);
  };
  co_await with_timeout(handshake(), options.connect_timeout, "the SSH handshake with " + who);
  core->start_driver();
  spdlog::info("ssh: connected to {} (cipher {})", who, ssh_get_cipher_out(s));
  co_return std::unique_ptr<SshNode>(new SshNode(ex, std::move(core)));
}

asio::awaitable<std::unique_ptr<SshNode>> SshNode::connect_over(asio::any_io_executor ex,
                                                                SshSessionPtr session, SshOptions options,
                                                                std::shared_ptr<ProxyCommand> proxy,
                                                                std::string hostname, unsigned port,
                                                                std::string known_hosts, std::string who) {
  // libssh would otherwise run the ProxyCommand itself, blocking, and outside kdap's event loop.
  ssh_options_set(session.get(), SSH_OPTIONS_PROXYCOMMAND, "none");
  std::string failure;
  try {
    auto node =
        co_await connect_over(ex, std::move(session), options, proxy->take_descriptor(), hostname, port,
                              known_hosts, who + " (through the ProxyCommand `" + proxy->command() + "`)");
    node->core_->keep_until_closed(proxy);
    co_return node;
  } catch (const std::exception& e) {
    failure = e.what();
  }
  // Its stderr usually says why: the jump host refused, the name did not resolve.
  std::string said = co_await proxy->last_words(std::chrono::milliseconds(500));
  throw NodeError(failure + (said.empty() ? std::string() : "\nThe ProxyCommand said: " + said) +
                  "\nCheck the ProxyCommand or ProxyJump for this host in your SSH configuration.");
}

namespace {

asio::awaitable<void> write_all_on_strand(SshChannel& channel, std::string data) {
  co_await channel.write_all(data);
}

class SshRemoteProcess final : public RemoteProcess {
 public:
  explicit SshRemoteProcess(std::unique_ptr<SshChannel> channel) : channel_(std::move(channel)) {}
  ~SshRemoteProcess() override { close(); }
  asio::awaitable<std::size_t> read_some(bool stderr_stream, std::span<char> buffer) override {
    auto& ch = *channel_;
    co_return co_await asio::co_spawn(
        ch.core()->strand(), [&]() { return ch.read_some(stderr_stream, buffer); }, asio::use_awaitable);
  }
  asio::awaitable<int> wait() override {
    auto& ch = *channel_;
    co_return co_await asio::co_spawn(
        ch.core()->strand(), [&]() { return ch.wait_exit(); }, asio::use_awaitable);
  }
  asio::awaitable<void> write(std::string data) override {
    auto& ch = *channel_;
    co_await asio::co_spawn(ch.core()->strand(), write_all_on_strand(ch, std::move(data)),
                            asio::use_awaitable);
  }
  void close() override {
    if (channel_) channel_->close();
  }

 private:
  std::unique_ptr<SshChannel> channel_;
};

class SshTunnel final : public dap::ByteStream {
 public:
  explicit SshTunnel(std::unique_ptr<SshChannel> channel) : channel_(std::move(channel)) {}
  ~SshTunnel() override { close(); }
  // The hot path of the relay. kdap runs its event loop on one thread, so on that thread the strand's
  // exclusion holds already, and the hop onto it (a coroutine frame and a type-erased dispatch per message)
  // is skipped; from any other thread the call still goes through the strand.
  asio::awaitable<std::size_t> read_some(std::span<char> buffer) override {
    auto& ch = *channel_;
    if (ch.core()->on_loop_thread()) {
      auto n = co_await ch.read_some(false, buffer);
      co_return n;
    }
    auto n = co_await asio::co_spawn(
        ch.core()->strand(), [&]() { return ch.read_some(false, buffer); }, asio::use_awaitable);
    co_return n;
  }
  asio::awaitable<void> write_all(std::string_view data) override {
    auto& ch = *channel_;
    if (ch.core()->on_loop_thread()) {
      co_await ch.write_all(data);
      co_return;
    }
    co_await asio::co_spawn(
        ch.core()->strand(), [&]() { return ch.write_all(data); }, asio::use_awaitable);
  }
  // A DAP message's header and body in one SSH packet: each packet costs padding, a MAC and a cipher setup,
  // and the far side would wake up twice. Large bodies go as they are: their packets are full anyway.
  asio::awaitable<void> write_gather(std::span<const std::string_view> parts) override {
    std::size_t total = 0;
    for (auto part : parts) total += part.size();
    if (total > kCoalesceLimit) {
      for (auto part : parts) co_await write_all(part);
      co_return;
    }
    joined_.clear();
    for (auto part : parts) joined_.append(part);
    co_await write_all(joined_);
  }
  void close() override {
    if (channel_) channel_->close();
  }

 private:
  static constexpr std::size_t kCoalesceLimit = 32 * 1024;
  std::unique_ptr<SshChannel> channel_;
  std::string joined_;  // at most one write is outstanding (ByteStream's contract)
};

}  // namespace

// The bodies below run on the session's strand. They are free functions taking their inputs by value rather
// than lambdas with init-captures: GCC 12 destroys such a lambda twice once it has been moved into co_spawn.
namespace {

asio::awaitable<CommandResult> run_on_strand(std::shared_ptr<SshSessionCore> core,
                                             std::shared_ptr<CommandShell> shell, std::string command,
                                             std::string input) {
  if (shell->available() && CommandShell::can_pass(input)) {
    std::string failure;
    try {
      auto result = co_await shell->run(command, input);
      co_return result;
    } catch (const ShellUnavailable& e) {
      core->throw_if_dead();
      failure = e.what();
    }
    spdlog::debug("ssh {}: the command shell failed ({}); running the command in its own channel",
                  core->name(), failure);
  }
  SshChannel channel(core);
  co_await channel.open_exec(command);
  if (!input.empty()) co_await channel.write_all(input);
  channel.send_eof();
  CommandResult result;
  char buffer[16384];
  for (bool err : {false, true}) {
    auto& into = err ? result.err : result.out;
    for (;;) {
      std::size_t n = co_await channel.read_some(err, buffer);
      if (n == 0) break;
      into.append(buffer, n);
    }
  }
  result.exit_status = co_await channel.wait_exit();
  core->throw_if_dead();
  co_return result;
}

constexpr std::string_view kSpareReady = "kdap-spare-ready\n";

// A spare channel's command: the login shell starts now, and the command it runs arrives later on stdin,
// ended by the line `go`. Without that line (kdap closed the spare) nothing runs.
std::string spare_bootstrap(const std::string& go) {
  std::string script = "printf '" + std::string(kSpareReady.substr(0, kSpareReady.size() - 1)) + "\\n'; " +
                       "c=; while IFS= read -r l; do [ \"$l\" = " + go + " ] && break; c=\"$c$l\n\"; done; " +
                       "[ \"$l\" = " + go + " ] && eval \"$c\"";
  return "exec /bin/sh -c " + shell_quote(script);
}

// One after another: each login shell gets the node's CPU to itself (one may run beside the command shell's),
// and a spare counts as ready once its shell is up.
asio::awaitable<void> add_spares(std::shared_ptr<SshSessionCore> core, std::shared_ptr<SpareChannels> spares,
                                 int count) {
  int i = 0;
  try {
    for (; i < count; ++i) {
      auto channel = std::make_unique<SshChannel>(core);
      std::string go = "KDAP-GO-" + random_token();
      co_await channel->open_exec(spare_bootstrap(go));
      std::string seen;
      char buffer[64];
      while (seen.size() < kSpareReady.size()) {
        std::size_t n =
            co_await channel->read_some(false, std::span<char>(buffer, kSpareReady.size() - seen.size()));
        if (n == 0) throw NodeError("the spare channel's shell ended");
        seen.append(buffer, n);
      }
      if (seen != kSpareReady) throw NodeError("the spare channel's shell printed " + seen);
      spares->ready.push_back({std::move(channel), std::move(go)});
      spares->settled();
      spdlog::debug("ssh {}: a prepared channel is ready", core->name());
    }
  } catch (const std::exception& e) {
    spdlog::debug("ssh {}: no spare channel: {}", core->name(), e.what());
    for (; i < count; ++i) spares->settled();
  }
}

asio::awaitable<std::unique_ptr<RemoteProcess>> start_on_strand(std::shared_ptr<SshSessionCore> core,
                                                                std::shared_ptr<SpareChannels> spares,
                                                                std::string command, bool keep_stdin) {
  // A spare whose login shell is on its way is never later than a new channel, whose login would start from
  // scratch (and compete with the spare's for the node's CPU).
  while (spares->ready.empty() && spares->starting > 0) {
    boost::system::error_code ec;
    co_await spares->changed.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    core->throw_if_dead();
  }
  std::unique_ptr<SshChannel> channel;
  if (!spares->ready.empty()) {
    auto spare = std::move(spares->ready.front());
    spares->ready.pop_front();
    channel = std::move(spare.channel);
    co_await channel->write_all(command + "\n" + spare.go + "\n");
  } else {
    channel = std::make_unique<SshChannel>(core);
    co_await channel->open_exec(command);
  }
  if (!keep_stdin) channel->send_eof();
  co_return std::make_unique<SshRemoteProcess>(std::move(channel));
}

asio::awaitable<std::unique_ptr<dap::ByteStream>> tunnel_on_strand(std::shared_ptr<SshSessionCore> core,
                                                                   std::uint16_t port) {
  auto channel = std::make_unique<SshChannel>(core);
  co_await channel->open_forward("127.0.0.1", port);
  co_return std::make_unique<SshTunnel>(std::move(channel));
}

}  // namespace

asio::awaitable<CommandResult> SshNode::run(std::string command, Duration timeout, std::string input) {
  co_return co_await with_timeout(
      asio::co_spawn(core_->strand(), run_on_strand(core_, shell_, std::move(command), std::move(input)),
                     asio::use_awaitable),
      timeout, "a command on " + describe());
}

void SshNode::prepare_processes(int count) {
  spares_->starting += count;
  asio::co_spawn(core_->strand(), add_spares(core_, spares_, count), asio::detached);
}

asio::awaitable<std::unique_ptr<RemoteProcess>> SshNode::start(std::string command, bool keep_stdin) {
  co_return co_await with_timeout(
      asio::co_spawn(core_->strand(), start_on_strand(core_, spares_, std::move(command), keep_stdin),
                     asio::use_awaitable),
      std::chrono::seconds(30), "starting a command on " + describe());
}

asio::awaitable<std::unique_ptr<dap::ByteStream>> SshNode::open_tunnel(std::uint16_t port) {
  co_return co_await with_timeout(
      asio::co_spawn(core_->strand(), tunnel_on_strand(core_, port), asio::use_awaitable),
      std::chrono::seconds(30), "opening a tunnel on " + describe());
}

}  // namespace kdap::node

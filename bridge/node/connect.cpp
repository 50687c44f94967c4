#include "bridge/node/connect.h"

#include "bridge/node/local_node.h"
#include "bridge/node/ssh_node.h"

namespace kdap::node {

asio::awaitable<std::unique_ptr<Node>> connect_node(asio::any_io_executor ex,
                                                    const config::LaunchConfig& config) {
  if (!config.host) co_return std::make_unique<LocalNode>(ex);
  SshOptions ssh;
  ssh.host = *config.host;
  ssh.identity_file = config.identity_file;
  ssh.known_hosts_file = config.known_hosts_file;
  ssh.ssh_config_file = config.ssh_config_file;
  ssh.connect_timeout = config.connect_timeout;
  co_return co_await SshNode::connect(ex, ssh);
}

}  // namespace kdap::node

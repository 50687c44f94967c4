#pragma once
// A node from the launch configuration: SSH when it names a host, this machine otherwise.

#include <memory>

#include "bridge/config/launch_config.h"
#include "bridge/node/node.h"

namespace kdap::node {

asio::awaitable<std::unique_ptr<Node>> connect_node(asio::any_io_executor ex,
                                                    const config::LaunchConfig& config);

}  // namespace kdap::node

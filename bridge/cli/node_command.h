#pragma once
// Running one command against a node (`kdap status`, `restore`, `ls`): connect, run the body, report a
// failure on stderr with exit code 1.

#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "bridge/cli/commands.h"
#include "bridge/config/launch_config.h"
#include "bridge/node/connect.h"

namespace kdap::cli {

inline config::LaunchConfig node_config(const NodeOptions& o) {
  config::LaunchConfig c;
  c.host = o.host;
  c.identity_file = o.identity_file;
  c.known_hosts_file = o.known_hosts_file;
  c.ssh_config_file = o.ssh_config_file;
  if (o.state_dir) c.state_dir = *o.state_dir;
  if (o.manifest_dir) c.manifest_dir = *o.manifest_dir;
  if (o.kubeconfig) c.kubeconfig = *o.kubeconfig;
  if (o.kubectl) c.kubectl = *o.kubectl;
  c.node_name = o.node_name;
  return c;
}

// `body(node::Node&, config::LaunchConfig)` is a coroutine returning the exit code.
template <class Body>
int run_on_node(const NodeOptions& options, Body body) {
  boost::asio::io_context io;
  int exit_code = 0;
  auto main = [&]() -> boost::asio::awaitable<void> {
    auto cfg = node_config(options);
    auto node = co_await node::connect_node(io.get_executor(), cfg);
    exit_code = co_await body(*node, cfg);
    node->close();
  };
  boost::asio::co_spawn(io, main(), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      std::cerr << "kdap: " << ex.what() << "\n";
      exit_code = 1;
    }
  });
  io.run();
  return exit_code;
}

}  // namespace kdap::cli

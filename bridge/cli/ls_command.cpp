// `kdap ls`: what can be debugged on a node, for people (a table) and for editors (--json, read by the VS
// Code extension's configuration provider).

#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "bridge/cli/commands.h"
#include "bridge/cli/node_command.h"
#include "bridge/targets/inventory.h"

namespace kdap::cli {
namespace asio = boost::asio;
namespace {

std::string debug_verdict(const targets::InventoryEntry& e) {
  if (!e.debug_info) return e.binary_note.empty() ? "?" : "-";
  if (!*e.debug_info) return "STRIPPED";
  if (e.optimizations_disabled && !*e.optimizations_disabled) return "optimized";
  return "yes";
}

std::string detail_of(const targets::InventoryEntry& e) {
  std::string detail = e.program.empty() ? "" : e.program;
  if (e.debug_info) {
    detail += *e.debug_info ? (e.optimizations_disabled.value_or(false) ? " — debug info, -N -l"
                                                                        : " — debug info, optimized build")
                            : " — no debug info (built with -s -w)";
  }
  if (!e.go_version.empty()) detail += ", " + e.go_version;
  return detail;
}

nlohmann::json to_json(const targets::Inventory& inventory) {
  nlohmann::json out = {
      {"node", inventory.node}, {"components", nlohmann::json::array()}, {"notes", inventory.notes}};
  for (const auto& e : inventory.components) {
    nlohmann::json c = {{"target", e.target},
                        {"kind", e.kind},
                        {"name", e.name},
                        {"state", e.state},
                        {"source", e.source},
                        {"program", e.program},
                        {"description", e.state + (e.pid ? " (pid " + std::to_string(*e.pid) + ")" : "")},
                        {"detail", detail_of(e)}};
    if (!e.ns.empty()) c["namespace"] = e.ns;
    c["pid"] = e.pid ? nlohmann::json(*e.pid) : nlohmann::json();
    c["debugInfo"] = e.debug_info ? nlohmann::json(*e.debug_info) : nlohmann::json();
    c["optimizationsDisabled"] =
        e.optimizations_disabled ? nlohmann::json(*e.optimizations_disabled) : nlohmann::json();
    c["goVersion"] = e.go_version;
    if (!e.binary_note.empty()) c["note"] = e.binary_note;
    out["components"].push_back(std::move(c));
  }
  return out;
}

}  // namespace

int run_ls(const NodeOptions& options, bool json) {
  return run_on_node(options, [&](node::Node& node, config::LaunchConfig cfg) -> asio::awaitable<int> {
    auto inventory = co_await targets::take_inventory(cfg, node);
    if (json) {
      std::cout << to_json(inventory).dump(2) << "\n";
      co_return 0;
    }
    std::cout << "on " << inventory.node << ":\n";
    std::cout << std::left << std::setw(44) << "TARGET" << std::setw(9) << "PID" << std::setw(11) << "DEBUG"
              << "PROGRAM\n";
    for (const auto& e : inventory.components) {
      std::cout << std::left << std::setw(44) << e.target << std::setw(9)
                << (e.pid ? std::to_string(*e.pid) : "-") << std::setw(11) << debug_verdict(e) << detail_of(e)
                << (e.state == "running" || e.state == "active" ? "" : "  [" + e.state + "]") << "\n";
    }
    if (inventory.components.empty()) std::cout << "nothing kdap can debug was found\n";
    for (const auto& note : inventory.notes) std::cout << "note: " << note << "\n";
    co_return 0;
  });
}

}  // namespace kdap::cli

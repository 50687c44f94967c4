#pragma once
// Finds out, before anything on the node changes, whether Delve can usefully debug the programs there: is it
// a Go ELF binary, does it carry DWARF, was it built with optimizations off, with which Go. The node needs
// only a POSIX shell and coreutils (dd, tail, head, od, wc, tr, base64); a few KiB per program cross the
// wire.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "bridge/inspect/elf_info.h"
#include "bridge/node/node.h"

namespace kdap::inspect {

namespace asio = boost::asio;

struct ProgramReport {
  std::string path;
  bool exists = false;
  bool is_elf = false;
  std::uint64_t size = 0;
  // Why a part could not be read: "not found", "not a regular file", "malformed ELF: …", … Empty when all
  // that exists was read. A binary without .go.buildinfo has `go` unset and no error.
  std::string error;
  std::optional<ElfSections> elf;
  std::optional<GoBuildInfo> go;
  bool has_debug_info = false;
  std::string first_bytes;  // up to 64; says what a non-ELF file is ("#!/bin/sh")
};

// All `paths` in at most two node.run calls, however many there are: one reads each file's ELF header,
// section header table and section names, the second the .go.buildinfo sections found by the first. A
// missing or unreadable path gives a report saying so. Throws node::NodeError when the node cannot run the
// commands or lacks one of the tools.
asio::awaitable<std::vector<ProgramReport>> inspect_programs(node::Node& node,
                                                             std::vector<std::string> paths);

struct Problem {
  enum class Severity {
    kError,    // Delve cannot debug the program usefully (or at all)
    kWarning,  // it can, with a worse experience
  };
  Severity severity = Severity::kError;
  std::string message;  // one sentence or two, naming the fix
};

// What stands between the program and a good debugging session, most serious first; empty when nothing does.
std::vector<Problem> problems(const ProgramReport& report);

}  // namespace kdap::inspect

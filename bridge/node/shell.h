#pragma once
// Commands reach the node as one /bin/sh string; every value kdap puts into one goes through shell_quote.

#include <string>
#include <string_view>
#include <vector>

namespace kdap::node {

// POSIX single-quoting: safe for any byte sequence without NUL.
std::string shell_quote(std::string_view word);
std::string shell_join(const std::vector<std::string>& words);
// 16 hex digits from the system's random source: markers and delimiters that a command's own text or output
// cannot contain by chance.
std::string random_token();

// Processes are told apart by pid and start time ("PID:START"), so that a process which merely reuses a pid
// is never taken for the one noted. Both snippets use shell builtins only (a fork per process costs
// milliseconds) and run under `set -u`. Defines `kdap_start_time PID`, which sets t to the process's start
// time (field 22 of /proc/PID/stat, counted after the command name, which may hold spaces), or to nothing if
// there is no such process.
extern const std::string_view kStartTimeFunction;
// SIGKILL to each "PID:START" in `entries` (words, after expansion) still running with that start time; needs
// kStartTimeFunction.
std::string kill_same_processes(std::string_view entries);
// If the process "PID:START" still runs, SIGTERM to it and all its descendants, then SIGKILL to those left
// after a second; needs kStartTimeFunction.
std::string end_process_tree(std::string_view pid_and_start);

}  // namespace kdap::node

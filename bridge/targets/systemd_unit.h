#pragma once
// Reading a systemd service's effective definition from `systemctl cat` output and expanding its ExecStart
// the way systemd does (systemd.syntax(7), systemd.service(5) "Command lines", systemd.exec(5) Environment=
// and EnvironmentFile=). Pure: the caller runs systemctl and reads the environment files on the node.
//
// Specifiers are resolved for the system service manager, which is the one kdap debugs units of: besides the
// unit-name ones (%n %N %p %P %i %I %j %J %f), %h %u %U %g %G and the directory roots %t %S %C %L %E %T %V
// have fixed values there. Host-dependent ones (%H %m %b %v %a %o …) throw a TargetError.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kdap::targets {

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct UnitFileText {
  std::string path;
  std::string text;
};

// Splits `systemctl cat UNIT` output into its files: each file starts with a line "# /path/to/file"
// (systemctl prints the fragment first, then drop-ins in the order systemd applies them). Lines before the
// first header are ignored. Later headers must follow the blank line systemctl prints between files, so a
// comment such as "# /etc/foo is generated" inside a file is not taken for one.
std::vector<UnitFileText> split_systemctl_cat(std::string_view output);

struct EnvironmentFileRef {
  std::string path;  // specifiers resolved; may be a glob pattern, which systemd expands
  bool optional;     // the '-' prefix
};

struct ServiceDefinition {
  std::string unit;                 // e.g. "kubelet.service"
  std::string exec_start;           // the effective ExecStart command line, prefixes removed, NOT expanded
  std::string exec_start_prefixes;  // the removed prefix characters, e.g. "-"
  std::vector<std::string> environment_assignments;   // raw values of each Environment= line, in order
  std::vector<EnvironmentFileRef> environment_files;  // in order
  std::optional<std::string> working_directory;       // WorkingDirectory= (as written; '-' prefix stripped)
  std::optional<std::string> user;                    // User=
  std::string type;                                   // Type= ("" when unset)
  std::vector<std::string> warnings;                  // settings systemd ignores, worth telling the user
};

// Throws TargetError naming the unit and the file when there is no effective ExecStart, when several commands
// remain (systemd refuses that unless Type=oneshot, and kdap debugs one process either way), when a section
// header is malformed or an ExecStart line has unbalanced quotes.
ServiceDefinition parse_service_definition(const std::vector<UnitFileText>& files, const std::string& unit);

// Environment= value: space-separated assignments, each may be double- or single-quoted as a whole
// ("A=1 2" 'B=x'), C-style backslash escapes; invalid ones are skipped. '%' is kept as written.
EnvList parse_environment_assignments(std::string_view value);
// The same with the unit's specifiers resolved in each assignment, as systemd does.
EnvList parse_environment_assignments(std::string_view value, const std::string& unit);

// An EnvironmentFile: KEY=VALUE lines following systemd.exec(5) EnvironmentFile=. Throws TargetError when the
// text is not UTF-8, which makes systemd reject the whole file.
EnvList parse_environment_file(std::string_view text);

// The process environment systemd gives ExecStart from the unit's own settings: Environment= lines in order,
// then the environment files in order (file settings override Environment=, later overrides earlier).
// `file_texts` gives each file's text (nullopt = missing; a missing non-optional file throws TargetError
// naming it). Variables systemd adds itself ($PATH, $INVOCATION_ID, …) are not included.
EnvList effective_environment(const ServiceDefinition& def,
                              const std::vector<std::optional<std::string>>& file_texts);

// Splits and expands an ExecStart command line as systemd.service(5) "Command lines" says: quoting with "…"
// and '…', backslash escapes; "$VAR" as its own word is replaced by the value split at whitespace into
// several words (unset or empty -> no words); "${VAR}" is replaced inside a word as-is (unset -> empty); "$$"
// -> "$"; specifiers. The first element is the program as written (never variable-expanded; a bare name is
// left for the caller to resolve on the node), the rest its arguments. Leading prefixes (-@:+!) are honoured:
// ':' turns off variable expansion, '@' takes the second word as argv[0], which is dropped here because dlv
// cannot set it. Throws TargetError naming the unit for syntax errors, several commands, or a specifier kdap
// cannot resolve.
std::vector<std::string> expand_exec_start(std::string_view command_line, const EnvList& env,
                                           const std::string& unit);
// The same for a parsed definition, honouring its exec_start_prefixes.
std::vector<std::string> expand_exec_start(const ServiceDefinition& def, const EnvList& env);

// Resolves the specifiers of `text` for `unit` (see the top of this file). Useful for WorkingDirectory= and
// User=, which systemd resolves too.
std::string resolve_specifiers(std::string_view text, const std::string& unit);

}  // namespace kdap::targets

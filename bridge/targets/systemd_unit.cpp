#include "bridge/targets/systemd_unit.h"

#include <cstddef>

#include "bridge/targets/target.h"

namespace kdap::targets {
namespace {

// systemd's WHITESPACE; NEWLINE is its subset that ends a line in environment files.
constexpr std::string_view kWhitespace = " \t\n\r";
constexpr std::string_view kNewline = "\n\r";

bool is_whitespace(char c) {
  return c != '\0' && kWhitespace.find(c) != std::string_view::npos;
}
bool is_newline(char c) {
  return c != '\0' && kNewline.find(c) != std::string_view::npos;
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string_view strip(std::string_view s) {
  while (!s.empty() && is_whitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_whitespace(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t length = 0;
    char32_t cp = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      cp = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > s.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    const char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

// Mirrors systemd's unichar_is_valid(), which only the \U escape applies.
bool is_valid_unichar(char32_t c) {
  if (c >= 0x110000) return false;
  if ((c & 0xFFFFF800) == 0xD800) return false;
  if (c >= 0xFDD0 && c <= 0xFDEF) return false;
  if ((c & 0xFFFE) == 0xFFFE) return false;
  return true;
}

// The one-letter escapes of systemd.syntax(7); "\s" (a space) is systemd's own.
constexpr std::pair<char, char> kSingleCharacterEscapes[] = {
    {'a', '\a'}, {'b', '\b'},  {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'},
    {'v', '\v'}, {'\\', '\\'}, {'"', '"'},  {'\'', '\''}, {'s', ' '},
};

// systemd's cunescape_one(): `s` starts after the backslash. Returns how many characters it used, or 0 when
// the sequence is not one systemd.syntax(7) lists (NUL is refused too).
std::size_t unescape_one(std::string_view s, std::string& out) {
  if (s.empty()) return 0;
  for (const auto& [letter, meaning] : kSingleCharacterEscapes) {
    if (s[0] == letter) {
      out += meaning;
      return 1;
    }
  }
  switch (s[0]) {
    case 'x': {
      if (s.size() < 3) return 0;
      const int high = hex_value(s[1]);
      const int low = hex_value(s[2]);
      if (high < 0 || low < 0 || (high == 0 && low == 0)) return 0;
      out += static_cast<char>((high << 4) | low);
      return 3;
    }
    case 'u':
    case 'U': {
      const std::size_t digits = s[0] == 'u' ? 4 : 8;
      if (s.size() < digits + 1) return 0;
      char32_t c = 0;
      for (std::size_t k = 1; k <= digits; ++k) {
        const int v = hex_value(s[k]);
        if (v < 0) return 0;
        c = (c << 4) | static_cast<char32_t>(v);
      }
      if (c == 0 || (s[0] == 'U' && !is_valid_unichar(c))) return 0;
      append_utf8(out, c);
      return digits + 1;
    }
    default:
      break;
  }
  if (s[0] >= '0' && s[0] <= '7') {
    if (s.size() < 3) return 0;
    unsigned value = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      if (s[k] < '0' || s[k] > '7') return 0;
      value = (value << 3) | static_cast<unsigned>(s[k] - '0');
    }
    if (value == 0 || value > 255) return 0;
    out += static_cast<char>(value);
    return 3;
  }
  return 0;
}

// The flags of systemd's extract_first_word() that the settings read here use (EXTRACT_UNQUOTE always).
struct ExtractFlags {
  bool c_unescape;      // EXTRACT_CUNESCAPE
  bool unescape_relax;  // EXTRACT_UNESCAPE_RELAX: keep unknown escapes and a trailing backslash verbatim
  bool relax;           // EXTRACT_RELAX: accept an unclosed quote and drop a trailing backslash
};

enum class Extracted { kWord, kNone, kInvalid };

// systemd's extract_first_word() with whitespace separators. Quotes may start anywhere in a word, as in a
// shell, and backslashes escape inside quotes too. Leaves `pos` on the separator after the word so callers
// can see where the word ended in the raw text.
Extracted extract_word(std::string_view s, std::size_t& pos, std::string& word, ExtractFlags flags) {
  word.clear();
  while (pos < s.size() && is_whitespace(s[pos])) ++pos;
  if (pos >= s.size()) return Extracted::kNone;
  char quote = 0;
  while (pos < s.size()) {
    const char c = s[pos];
    if (c == '\\') {
      ++pos;
      if (pos >= s.size()) {
        if (flags.unescape_relax && (quote == 0 || flags.relax)) {
          word += '\\';
          return Extracted::kWord;
        }
        return flags.relax ? Extracted::kWord : Extracted::kInvalid;
      }
      if (flags.c_unescape) {
        const std::size_t used = unescape_one(s.substr(pos), word);
        if (used > 0) {
          pos += used;
          continue;
        }
        if (!flags.unescape_relax) return Extracted::kInvalid;
        word += '\\';
      }
      word += s[pos++];
    } else if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
      ++pos;
    } else if (c == '\'' || c == '"') {
      quote = c;
      ++pos;
    } else if (is_whitespace(c)) {
      return Extracted::kWord;
    } else {
      word += c;
      ++pos;
    }
  }
  if (quote != 0 && !flags.relax) return Extracted::kInvalid;
  return Extracted::kWord;
}

bool is_valid_env_name(std::string_view name) {
  if (name.empty() || is_digit(name[0])) return false;
  for (char c : name) {
    if (!is_letter(c) && !is_digit(c) && c != '_') return false;
  }
  return true;
}

// Like systemd's strv_env_replace_consume(): an existing variable keeps its place.
void set_variable(EnvList& env, std::string name, std::string value) {
  for (auto& entry : env) {
    if (entry.first == name) {
      entry.second = std::move(value);
      return;
    }
  }
  env.emplace_back(std::move(name), std::move(value));
}

const std::string* find_variable(const EnvList& env, std::string_view name) {
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    if (it->first == name) return &it->second;
  }
  return nullptr;
}

// ---- unit names and specifiers ----

struct UnitName {
  std::string id;                       // %n
  std::string without_suffix;           // %N
  std::string prefix;                   // %p
  std::optional<std::string> instance;  // %i; nullopt for a unit that is not a template instance
};

UnitName split_unit_name(const std::string& unit) {
  UnitName name;
  name.id = unit;
  const auto dot = unit.rfind('.');
  name.without_suffix = dot == std::string::npos || dot == 0 ? unit : unit.substr(0, dot);
  const auto at = name.without_suffix.find('@');
  if (at == std::string::npos) {
    name.prefix = name.without_suffix;
  } else {
    name.prefix = name.without_suffix.substr(0, at);
    name.instance = name.without_suffix.substr(at + 1);
  }
  return name;
}

// systemd's unit_name_unescape(): "-" stands for "/" and "\xNN" for a byte.
std::optional<std::string> unescape_unit_name_part(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '-') {
      out += '/';
    } else if (s[i] == '\\') {
      if (i + 3 >= s.size() || s[i + 1] != 'x') return std::nullopt;
      const int high = hex_value(s[i + 2]);
      const int low = hex_value(s[i + 3]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>((high << 4) | low);
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// systemd's unit_name_path_unescape(), behind %f.
std::optional<std::string> unescape_unit_name_path(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s == "-") return std::string("/");
  auto unescaped = unescape_unit_name_part(s);
  if (!unescaped || unescaped->empty() || unescaped->front() == '/' || unescaped->back() == '/') {
    return std::nullopt;
  }
  std::string path = "/" + *unescaped;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string_view component = std::string_view(path).substr(start, end - start);
    if (component.empty() || component == "." || component == "..") return std::nullopt;
    start = end + 1;
  }
  return path;
}

// Specifiers whose values depend on the node, with what they mean for the message saying kdap cannot know
// them.
constexpr std::pair<char, std::string_view> kNodeDependentSpecifiers[] = {
    {'a', "the architecture"},
    {'A', "the OS image version"},
    {'b', "the boot ID"},
    {'B', "the OS build ID"},
    {'c', "the cgroup path"},
    {'d', "the credentials directory"},
    {'D', "the shared data directory"},
    {'H', "the host name"},
    {'l', "the short host name"},
    {'m', "the machine ID"},
    {'M', "the OS image identifier"},
    {'o', "the OS ID"},
    {'q', "the pretty host name"},
    {'r', "the slice cgroup path"},
    {'R', "the cgroup root"},
    {'s', "the user's shell"},
    {'v', "the kernel release"},
    {'w', "the OS version ID"},
    {'W', "the OS variant ID"},
    {'y', "the real path of the unit file"},
    {'Y', "the directory of the unit file"},
};

// systemd.unit(5) gives these fixed values for the system service manager, whose user is root; they do not
// follow User=. PID 1 normally has no $TMPDIR, $TEMP or $TMP, hence /tmp and /var/tmp.
constexpr std::pair<char, std::string_view> kSystemManagerSpecifiers[] = {
    {'h', "/root"},    {'u', "root"}, {'U', "0"},        {'g', "root"},
    {'G', "0"},        {'t', "/run"}, {'S', "/var/lib"}, {'C', "/var/cache"},
    {'L', "/var/log"}, {'E', "/etc"}, {'T', "/tmp"},     {'V', "/var/tmp"},
};

std::string specifier_value(char specifier, const UnitName& name, std::string_view where) {
  auto unescaped = [&](std::string_view part) {
    auto value = unescape_unit_name_part(part);
    if (!value) {
      throw TargetError(name.id + ": cannot unescape \"" + std::string(part) + "\" for %" + specifier +
                        " in " + std::string(where));
    }
    return *value;
  };
  auto last_component = [&] {
    const auto dash = name.prefix.rfind('-');
    return dash == std::string::npos ? name.prefix : name.prefix.substr(dash + 1);
  };
  switch (specifier) {
    case 'n':
      return name.id;
    case 'N':
      return name.without_suffix;
    case 'p':
      return name.prefix;
    case 'P':
      return unescaped(name.prefix);
    case 'i':
      return name.instance.value_or("");
    case 'I':
      return unescaped(name.instance.value_or(""));
    case 'j':
      return last_component();
    case 'J':
      return unescaped(last_component());
    case 'f': {
      auto path = unescape_unit_name_path(name.instance ? *name.instance : name.prefix);
      if (!path)
        throw TargetError(name.id + ": its name does not unescape to a path for %f in " + std::string(where));
      return *path;
    }
    default:
      break;
  }
  for (const auto& [letter, value] : kSystemManagerSpecifiers) {
    if (specifier == letter) return std::string(value);
  }
  for (const auto& [letter, meaning] : kNodeDependentSpecifiers) {
    if (specifier != letter) continue;
    throw TargetError(
        name.id + ": kdap cannot resolve the specifier %" + specifier + " (" + std::string(meaning) +
        ") in " + std::string(where) +
        ": its value depends on the node. Set the program and args in the launch configuration.");
  }
  // systemd refuses the whole setting when a letter or digit is not a known specifier.
  throw TargetError(name.id + ": unknown specifier %" + specifier + " in " + std::string(where) +
                    " (systemd refuses this setting too)");
}

std::string resolve_specifiers_in(std::string_view text, const UnitName& name, std::string_view where) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 1 == text.size()) {
      out += '%';  // systemd keeps a stray '%' at the end
      break;
    }
    const char specifier = text[++i];
    if (specifier == '%') {
      out += '%';
    } else if (is_letter(specifier) || is_digit(specifier)) {
      out += specifier_value(specifier, name, where);
    } else {
      // Only letters and digits can be specifiers; systemd keeps anything else as written.
      out += '%';
      out += specifier;
    }
  }
  return out;
}

// Environment=: systemd's config_parse_environ().
EnvList parse_assignments(std::string_view value, const UnitName* unit_name) {
  const std::string where = "Environment=" + std::string(value);
  // No relaxation: at the first bad escape or unbalanced quote systemd ignores the rest of the line but keeps
  // the assignments it has read.
  const ExtractFlags flags{.c_unescape = true, .unescape_relax = false, .relax = false};
  EnvList env;
  std::size_t pos = 0;
  std::string word;
  while (extract_word(value, pos, word, flags) == Extracted::kWord) {
    // Specifiers are resolved per assignment, after unquoting and before the name is checked.
    const std::string assignment = unit_name ? resolve_specifiers_in(word, *unit_name, where) : word;
    const auto equals = assignment.find('=');
    if (equals == std::string::npos) continue;
    const std::string_view name = std::string_view(assignment).substr(0, equals);
    const std::string_view assigned = std::string_view(assignment).substr(equals + 1);
    if (!is_valid_env_name(name) || !is_valid_utf8(assigned)) continue;
    set_variable(env, std::string(name), std::string(assigned));
  }
  return env;
}

// ---- command lines ----

struct CommandWord {
  std::string text;  // unquoted and unescaped, specifiers not yet resolved
  std::size_t raw_begin;
  std::size_t raw_end;
};
using Command = std::vector<CommandWord>;

// Splits an ExecStart= value into commands the way systemd's config_parse_exec() does: a lone unquoted ';'
// separates commands and "\;" is a literal ';' argument. nullopt when quotes are unbalanced, which makes
// systemd reject the line.
std::optional<std::vector<Command>> split_command_line(std::string_view line) {
  // ExecStart= keeps unknown escapes verbatim: systemd retries with EXTRACT_UNESCAPE_RELAX and only warns.
  const ExtractFlags flags{.c_unescape = true, .unescape_relax = true, .relax = false};
  auto word_ends_at = [&](std::size_t i) { return i >= line.size() || is_whitespace(line[i]); };
  std::vector<Command> commands;
  Command current;
  auto end_command = [&] {
    if (!current.empty()) commands.push_back(std::move(current));
    current.clear();
  };
  std::size_t pos = 0;
  for (;;) {
    while (pos < line.size() && is_whitespace(line[pos])) ++pos;
    if (pos >= line.size()) break;
    const std::size_t begin = pos;
    if (line[pos] == ';' && word_ends_at(pos + 1)) {
      ++pos;
      end_command();
      continue;
    }
    if (!current.empty() && line.compare(pos, 2, "\\;") == 0 && word_ends_at(pos + 2)) {
      pos += 2;
      current.push_back({";", begin, pos});
      continue;
    }
    std::string word;
    if (extract_word(line, pos, word, flags) == Extracted::kInvalid) return std::nullopt;
    // systemd compares the unquoted first word, so a quoted ";" there separates commands too.
    if (current.empty() && word == ";") {
      end_command();
      continue;
    }
    current.push_back({std::move(word), begin, pos});
  }
  end_command();
  return commands;
}

struct ExecPrefixes {
  bool ignore_failure = false;    // '-'
  bool argv0 = false;             // '@'
  bool no_env_expansion = false;  // ':'
  bool full_privileges = false;   // '+'
  bool no_setuid = false;         // '!'
  bool ambient = false;           // '!!'
};

// Consumes the special executable prefixes as config_parse_exec() does: each at most once, '+' excludes '!'.
std::size_t consume_prefixes(std::string_view word, ExecPrefixes& prefixes) {
  std::size_t i = 0;
  for (; i < word.size(); ++i) {
    const char c = word[i];
    const bool privileged = prefixes.full_privileges || prefixes.no_setuid || prefixes.ambient;
    if (c == '-' && !prefixes.ignore_failure) {
      prefixes.ignore_failure = true;
    } else if (c == '@' && !prefixes.argv0) {
      prefixes.argv0 = true;
    } else if (c == ':' && !prefixes.no_env_expansion) {
      prefixes.no_env_expansion = true;
    } else if (c == '+' && !privileged) {
      prefixes.full_privileges = true;
    } else if (c == '!' && !privileged) {
      prefixes.no_setuid = true;
    } else if (c == '!' && prefixes.no_setuid && !prefixes.ambient && !prefixes.full_privileges) {
      prefixes.no_setuid = false;
      prefixes.ambient = true;
    } else {
      break;
    }
  }
  return i;
}

// systemd's path_simplify(): drops repeated slashes and "." components; ".." stays.
std::string simplify_path(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::string out;
  std::size_t start = 0;
  while (start < path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const auto component = path.substr(start, end - start);
    if (!component.empty() && component != ".") {
      if (!out.empty() || absolute) out += '/';
      out += component;
    }
    start = end + 1;
  }
  if (out.empty()) return absolute ? "/" : std::string(path);
  return out;
}

// systemd's replace_env() without the extended ${VAR:-default} forms, which ExecStart= does not get:
// ${VAR} is replaced (unset or invalid name -> empty), "$$" becomes "$", anything else stays.
std::string replace_braced_variables(std::string_view word, const EnvList& env) {
  enum class State { kWord, kDollar, kVariable } state = State::kWord;
  std::string out;
  std::size_t literal_start = 0;
  for (std::size_t i = 0; i < word.size(); ++i) {
    const char c = word[i];
    switch (state) {
      case State::kWord:
        if (c == '$') state = State::kDollar;
        break;
      case State::kDollar:
        if (c == '{') {
          out.append(word.substr(literal_start, i - 1 - literal_start));
          literal_start = i - 1;
          state = State::kVariable;
        } else if (c == '$') {
          out.append(word.substr(literal_start, i - literal_start));
          literal_start = i + 1;
          state = State::kWord;
        } else {
          state = State::kWord;
        }
        break;
      case State::kVariable:
        if (c == '}') {
          const auto name = word.substr(literal_start + 2, i - literal_start - 2);
          if (const auto* value = is_valid_env_name(name) ? find_variable(env, name) : nullptr) out += *value;
          literal_start = i + 1;
          state = State::kWord;
        } else if (c == ':') {
          state = State::kWord;  // "${VAR:-x}" is not supported here, so it stays as written
        }
        break;
    }
  }
  out.append(word.substr(literal_start));
  return out;
}

// systemd's replace_env_argv() for one word.
void expand_variables(const std::string& word, const EnvList& env, std::vector<std::string>& out) {
  if (!word.empty() && word[0] == '$' && (word.size() == 1 || (word[1] != '{' && word[1] != '$'))) {
    // The whole word names one variable. A name that is not valid or not set yields no word at all.
    const std::string_view name = std::string_view(word).substr(1);
    const auto* value = is_valid_env_name(name) ? find_variable(env, name) : nullptr;
    if (value == nullptr) return;
    // The value is split the way strv_split_full(EXTRACT_RELAX|EXTRACT_UNQUOTE) does: quotes group and are
    // removed, a backslash takes the next character literally, no C escapes.
    const ExtractFlags flags{.c_unescape = false, .unescape_relax = false, .relax = true};
    std::size_t pos = 0;
    std::string piece;
    while (extract_word(*value, pos, piece, flags) == Extracted::kWord) out.push_back(piece);
    return;
  }
  out.push_back(replace_braced_variables(word, env));
}

bool is_safe_program(std::string_view path) {
  for (char c : path) {
    if ((c > 0 && c < ' ') || c == '"' || c == '\'' || c == '\\' || c == '\x7f') return false;
  }
  return true;
}

std::vector<std::string> expand_command(std::string_view line, const ExecPrefixes& given_prefixes,
                                        bool line_has_prefixes, const EnvList& env, const std::string& unit) {
  const auto commands = split_command_line(line);
  const std::string shown = "ExecStart=" + std::string(line);
  if (!commands) throw TargetError(unit + ": unbalanced quotes in " + shown);
  if (commands->empty()) throw TargetError(unit + ": ExecStart= has no command");
  if (commands->size() > 1) {
    throw TargetError(unit + ": " + shown + " holds " + std::to_string(commands->size()) +
                      " commands separated by ';'; kdap debugs a single process");
  }
  const Command& command = commands->front();
  ExecPrefixes prefixes = given_prefixes;
  const std::size_t prefix_length = line_has_prefixes ? consume_prefixes(command[0].text, prefixes) : 0;
  const UnitName name = split_unit_name(unit);
  const std::string where = "ExecStart=";
  const std::string program =
      resolve_specifiers_in(std::string_view(command[0].text).substr(prefix_length), name, where);

  if (program.empty()) throw TargetError(unit + ": " + shown + " has prefixes but no program");
  if (program[0] == '$') {
    // systemd.service(5): "the first argument (i.e. the program to execute) may not be a variable".
    throw TargetError(unit + ": the program in " + shown +
                      " is a variable, which systemd does not expand; it would look for a file named \"" +
                      program + "\"");
  }
  const bool absolute = program[0] == '/';
  if (!is_safe_program(program) || program.back() == '/' ||
      (!absolute && (program.find('/') != std::string::npos || program == "." || program == ".."))) {
    throw TargetError(unit + ": \"" + program + "\" in " + shown +
                      " is neither an absolute path nor a plain file name (systemd refuses it too)");
  }

  std::size_t first_argument = 1;
  if (prefixes.argv0) {
    if (command.size() < 2)
      throw TargetError(unit + ": " + shown + " uses the '@' prefix but gives no argv[0]");
    first_argument = 2;
  }
  std::vector<std::string> argv{simplify_path(program)};
  for (std::size_t i = first_argument; i < command.size(); ++i) {
    // Specifiers are resolved when systemd loads the unit, variables only when it starts the command.
    std::string word = resolve_specifiers_in(command[i].text, name, where);
    if (prefixes.no_env_expansion) {
      argv.push_back(std::move(word));
    } else {
      expand_variables(word, env, argv);
    }
  }
  return argv;
}

ExecPrefixes prefixes_from(std::string_view chars) {
  ExecPrefixes prefixes;
  consume_prefixes(chars, prefixes);
  return prefixes;
}

// ---- unit files ----

struct LogicalLine {
  std::string text;
  unsigned number;  // the physical line it starts on
};

// Physical lines end at "\n", "\r\n" or a lone "\r", as systemd's read_line() has it.
std::vector<std::string_view> physical_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      lines.push_back(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

// systemd.syntax(7): a line ending in an unescaped backslash continues on the next one with the backslash
// replaced by a space, and comment lines in between are skipped (conf-parser.c drops every comment line
// before it looks at continuations).
std::vector<LogicalLine> logical_lines(std::string_view text) {
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (starts_with(text, kByteOrderMark)) text.remove_prefix(kByteOrderMark.size());
  std::vector<LogicalLine> out;
  std::optional<LogicalLine> continuation;
  unsigned number = 0;
  for (const auto physical : physical_lines(text)) {
    ++number;
    const auto stripped = strip(physical);
    if (!stripped.empty() && (stripped[0] == '#' || stripped[0] == ';')) continue;
    LogicalLine current = continuation ? std::move(*continuation) : LogicalLine{"", number};
    continuation.reset();
    current.text.append(physical);
    bool escaped = false;
    for (char c : current.text) escaped = !escaped && c == '\\';
    if (escaped) {
      current.text.back() = ' ';
      continuation = std::move(current);
      continue;
    }
    out.push_back(std::move(current));
  }
  if (continuation) out.push_back(std::move(*continuation));
  return out;
}

struct Setting {
  std::string value;
  std::string file;
  unsigned line;
};

std::string at(const std::string& file, unsigned line) {
  return file + " line " + std::to_string(line);
}

bool is_header_line(std::string_view line) {
  if (!starts_with(line, "# /")) return false;
  for (char c : line.substr(2)) {
    if (is_whitespace(c)) return false;
  }
  return true;
}

// Colours and hyperlinks appear when systemctl thinks it writes to a terminal.
std::string without_terminal_escapes(std::string_view line) {
  if (line.find('\x1b') == std::string_view::npos) return std::string(line);
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\x1b' || i + 1 >= line.size()) {
      out += line[i];
      continue;
    }
    if (line[i + 1] == '[') {
      i += 2;
      while (i < line.size() && !(line[i] >= 0x40 && line[i] <= 0x7e)) ++i;
    } else if (line[i + 1] == ']') {
      i += 2;
      while (i < line.size() && line[i] != '\a' &&
             !(line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '\\')) {
        ++i;
      }
      if (i < line.size() && line[i] == '\x1b') ++i;
    } else {
      ++i;
    }
  }
  return out;
}

}  // namespace

std::vector<UnitFileText> split_systemctl_cat(std::string_view output) {
  std::vector<UnitFileText> files;
  bool previous_blank = false;
  std::size_t start = 0;
  while (start < output.size()) {
    auto end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    auto raw = output.substr(start, end - start);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    start = end + 1;
    const std::string line = without_terminal_escapes(raw);
    // systemctl separates files with one empty line, which belongs to neither of them.
    if (is_header_line(line) && (files.empty() || previous_blank)) {
      if (!files.empty()) files.back().text.pop_back();
      files.push_back({line.substr(2), ""});
    } else if (!files.empty()) {
      files.back().text += line;
      files.back().text += '\n';
    }
    previous_blank = line.empty();
  }
  return files;
}

ServiceDefinition parse_service_definition(const std::vector<UnitFileText>& files, const std::string& unit) {
  if (files.empty()) throw TargetError("systemctl cat printed no unit file for " + unit);
  const UnitName name = split_unit_name(unit);
  ServiceDefinition def;
  def.unit = unit;
  std::vector<Setting> exec_starts;
  std::optional<Setting> exec_start_reset;

  for (const auto& file : files) {
    std::string section;
    for (const auto& line : logical_lines(file.text)) {
      const auto text = strip(line.text);
      if (text.empty() || text[0] == '#' || text[0] == ';') continue;
      if (text[0] == '[') {
        if (text.back() != ']') {
          throw TargetError(unit + ": invalid section header \"" + std::string(text) + "\" in " +
                            at(file.path, line.number) + " (systemd cannot load the unit either)");
        }
        section = std::string(text.substr(1, text.size() - 2));
        continue;
      }
      if (section != "Service") continue;
      const auto equals = text.find('=');
      if (equals == std::string_view::npos || equals == 0) {
        def.warnings.push_back(at(file.path, line.number) + ": \"" + std::string(text) +
                               "\" is not an assignment; systemd ignores it");
        continue;
      }
      const auto key = strip(text.substr(0, equals));
      const std::string value(strip(text.substr(equals + 1)));
      // An empty assignment resets list settings (systemd.syntax(7)) and unsets the others.
      if (key == "ExecStart") {
        if (value.empty()) {
          exec_starts.clear();
          exec_start_reset = Setting{value, file.path, line.number};
        } else {
          exec_starts.push_back({value, file.path, line.number});
        }
      } else if (key == "Environment") {
        if (value.empty()) {
          def.environment_assignments.clear();
        } else {
          def.environment_assignments.push_back(value);
        }
      } else if (key == "EnvironmentFile") {
        if (value.empty()) {
          def.environment_files.clear();
          continue;
        }
        const std::string where = "EnvironmentFile= in " + at(file.path, line.number);
        const std::string resolved = resolve_specifiers_in(value, name, where);
        const bool optional = resolved[0] == '-';
        const std::string_view path = std::string_view(resolved).substr(optional ? 1 : 0);
        if (path.empty() || path[0] != '/') {
          def.warnings.push_back(where + ": \"" + std::string(path) +
                                 "\" is not an absolute path; systemd ignores it");
          continue;
        }
        def.environment_files.push_back({simplify_path(path), optional});
      } else if (key == "WorkingDirectory") {
        if (value.empty()) {
          def.working_directory.reset();
        } else {
          def.working_directory = value[0] == '-' ? value.substr(1) : value;
        }
      } else if (key == "User") {
        if (value.empty()) {
          def.user.reset();
        } else {
          def.user = value;
        }
      } else if (key == "Type") {
        def.type = value;
      }
    }
  }

  struct Found {
    const Setting* setting;
    Command command;
  };
  std::vector<Found> found;
  for (const auto& setting : exec_starts) {
    auto commands = split_command_line(setting.value);
    if (!commands) {
      throw TargetError(unit + ": unbalanced quotes in ExecStart= in " + at(setting.file, setting.line) +
                        " (systemd cannot load the unit either): " + setting.value);
    }
    for (auto& command : *commands) found.push_back({&setting, std::move(command)});
  }
  if (found.empty()) {
    if (exec_start_reset) {
      throw TargetError(unit + " has no ExecStart=: the empty ExecStart= in " +
                        at(exec_start_reset->file, exec_start_reset->line) +
                        " resets it and no later line sets it again");
    }
    std::string paths;
    for (const auto& file : files) paths += (paths.empty() ? "" : ", ") + file.path;
    throw TargetError(unit + " has no ExecStart= in the [Service] section of " + paths);
  }
  if (found.size() > 1) {
    std::string origins;
    for (const auto& each : found) {
      origins += (origins.empty() ? "" : "; ") + at(each.setting->file, each.setting->line);
    }
    if (def.type == "oneshot") {
      throw TargetError(unit + " runs " + std::to_string(found.size()) +
                        " ExecStart= commands one after another (" + origins +
                        "); kdap debugs a single process");
    }
    throw TargetError(unit + " has " + std::to_string(found.size()) + " ExecStart= commands (" + origins +
                      "), which systemd only accepts for Type=oneshot");
  }

  const auto& [setting, command] = found.front();
  std::string raw =
      setting->value.substr(command.front().raw_begin, command.back().raw_end - command.front().raw_begin);
  ExecPrefixes prefixes;
  const std::size_t prefix_length = consume_prefixes(command.front().text, prefixes);
  def.exec_start_prefixes = command.front().text.substr(0, prefix_length);
  // The prefixes are the first characters of the unquoted word; in the raw text they may sit inside quotes.
  if (starts_with(raw, def.exec_start_prefixes)) {
    raw.erase(0, prefix_length);
  } else if (!raw.empty() && (raw[0] == '"' || raw[0] == '\'') &&
             starts_with(std::string_view(raw).substr(1), def.exec_start_prefixes)) {
    raw.erase(1, prefix_length);
  }
  def.exec_start = std::move(raw);
  if (prefixes.argv0) {
    def.warnings.push_back(at(setting->file, setting->line) +
                           ": ExecStart= sets argv[0] with '@'; under dlv the program sees its path instead");
  }
  return def;
}

EnvList parse_environment_assignments(std::string_view value) {
  return parse_assignments(value, nullptr);
}

EnvList parse_environment_assignments(std::string_view value, const std::string& unit) {
  const UnitName name = split_unit_name(unit);
  return parse_assignments(value, &name);
}

EnvList parse_environment_file(std::string_view text) {
  // A port of parse_env_file_internal() in systemd's env-file.c, which is what systemd.exec(5) describes.
  enum class State {
    kPreKey,
    kKey,
    kPreValue,
    kValue,
    kValueEscape,
    kSingleQuoteValue,
    kDoubleQuoteValue,
    kDoubleQuoteValueEscape,
    kComment,
    kCommentEscape,
  } state = State::kPreKey;
  constexpr auto kNone = std::string::npos;
  constexpr std::string_view kShellNeedsEscape = "\"\\`$";
  std::string key;
  std::string value;
  std::size_t last_key_whitespace = kNone;
  std::size_t last_value_whitespace = kNone;
  unsigned line = 1;
  EnvList env;

  auto push = [&] {
    if (last_key_whitespace != kNone) key.resize(last_key_whitespace);
    if (!is_valid_utf8(key) || !is_valid_utf8(value)) {
      // systemd aborts reading the file here, so none of its settings apply.
      throw TargetError("line " + std::to_string(line) + " is not valid UTF-8");
    }
    set_variable(env, key, value);
    key.clear();
    value.clear();
  };

  for (const char c : text) {
    switch (state) {
      case State::kPreKey:
        if (c == '#' || c == ';') {
          state = State::kComment;
        } else if (!is_whitespace(c)) {
          state = State::kKey;
          last_key_whitespace = kNone;
          key.assign(1, c);
        }
        if (c == '\n') ++line;
        break;
      case State::kKey:
        if (is_newline(c)) {
          state = State::kPreKey;  // a line without '=' is ignored
          key.clear();
          ++line;
        } else if (c == '=') {
          state = State::kPreValue;
          last_value_whitespace = kNone;
        } else {
          if (!is_whitespace(c)) {
            last_key_whitespace = kNone;
          } else if (last_key_whitespace == kNone) {
            last_key_whitespace = key.size();
          }
          key += c;
        }
        break;
      case State::kPreValue:
        if (is_newline(c)) {
          state = State::kPreKey;
          push();
          ++line;
        } else if (c == '\'') {
          state = State::kSingleQuoteValue;
        } else if (c == '"') {
          state = State::kDoubleQuoteValue;
        } else if (c == '\\') {
          state = State::kValueEscape;
        } else if (!is_whitespace(c)) {
          state = State::kValue;
          value += c;
        }
        break;
      case State::kValue:
        if (is_newline(c)) {
          state = State::kPreKey;
          if (last_value_whitespace != kNone) value.resize(last_value_whitespace);
          push();
          ++line;
        } else if (c == '\\') {
          state = State::kValueEscape;
          last_value_whitespace = kNone;
        } else {
          if (!is_whitespace(c)) {
            last_value_whitespace = kNone;
          } else if (last_value_whitespace == kNone) {
            last_value_whitespace = value.size();
          }
          value += c;
        }
        break;
      case State::kValueEscape:
        state = State::kValue;
        // An escaped newline joins the lines; any other escaped character is taken as it is.
        if (!is_newline(c)) {
          value += c;
        } else {
          ++line;
        }
        break;
      case State::kSingleQuoteValue:
        if (c == '\'') {
          state = State::kPreValue;
        } else {
          value += c;
        }
        if (c == '\n') ++line;
        break;
      case State::kDoubleQuoteValue:
        if (c == '"') {
          state = State::kPreValue;
        } else if (c == '\\') {
          state = State::kDoubleQuoteValueEscape;
        } else {
          value += c;
        }
        if (c == '\n') ++line;
        break;
      case State::kDoubleQuoteValueEscape:
        state = State::kDoubleQuoteValue;
        if (kShellNeedsEscape.find(c) != std::string_view::npos) {
          value += c;
        } else if (c != '\n') {
          // Like a shell, a backslash before any other character stays.
          value += '\\';
          value += c;
        } else {
          ++line;
        }
        break;
      case State::kComment:
        if (c == '\\') {
          state = State::kCommentEscape;
        } else if (is_newline(c)) {
          state = State::kPreKey;
          ++line;
        }
        break;
      case State::kCommentEscape:
        // Since systemd 254 a backslash at the end of a comment no longer continues the comment.
        if (is_newline(c)) {
          state = State::kPreKey;
          ++line;
        } else {
          state = State::kComment;
        }
        break;
    }
  }
  switch (state) {
    case State::kValue:
      if (last_value_whitespace != kNone) value.resize(last_value_whitespace);
      push();
      break;
    case State::kPreValue:
    case State::kValueEscape:
    case State::kSingleQuoteValue:
    case State::kDoubleQuoteValue:
    case State::kDoubleQuoteValueEscape:
      push();
      break;
    default:
      break;
  }

  // systemd drops assignments whose names are not valid variable names (strv_env_clean_with_callback()).
  EnvList valid;
  for (auto& [name, assigned] : env) {
    if (is_valid_env_name(name)) valid.emplace_back(std::move(name), std::move(assigned));
  }
  return valid;
}

EnvList effective_environment(const ServiceDefinition& def,
                              const std::vector<std::optional<std::string>>& file_texts) {
  if (file_texts.size() != def.environment_files.size()) {
    throw TargetError(def.unit + ": " + std::to_string(file_texts.size()) + " environment file texts for " +
                      std::to_string(def.environment_files.size()) + " EnvironmentFile= settings");
  }
  EnvList env;
  for (const auto& assignments : def.environment_assignments) {
    for (auto& [name, value] : parse_environment_assignments(assignments, def.unit)) {
      set_variable(env, std::move(name), std::move(value));
    }
  }
  for (std::size_t i = 0; i < file_texts.size(); ++i) {
    const auto& file = def.environment_files[i];
    if (!file_texts[i]) {
      if (file.optional) continue;
      throw TargetError(
          def.unit + ": its EnvironmentFile=" + file.path +
          " does not exist, so systemd cannot start it either (a '-' prefix makes the file optional)");
    }
    EnvList from_file;
    try {
      from_file = parse_environment_file(*file_texts[i]);
    } catch (const TargetError& e) {
      // systemd skips an optional file it cannot read and fails the start for a required one.
      if (file.optional) continue;
      throw TargetError(def.unit + ": EnvironmentFile=" + file.path + ": " + e.what());
    }
    for (auto& [name, value] : from_file) set_variable(env, std::move(name), std::move(value));
  }
  return env;
}

std::vector<std::string> expand_exec_start(std::string_view command_line, const EnvList& env,
                                           const std::string& unit) {
  return expand_command(command_line, ExecPrefixes{}, /*line_has_prefixes=*/true, env, unit);
}

std::vector<std::string> expand_exec_start(const ServiceDefinition& def, const EnvList& env) {
  return expand_command(def.exec_start, prefixes_from(def.exec_start_prefixes), /*line_has_prefixes=*/false,
                        env, def.unit);
}

std::string resolve_specifiers(std::string_view text, const std::string& unit) {
  return resolve_specifiers_in(text, split_unit_name(unit), "\"" + std::string(text) + "\"");
}

}  // namespace kdap::targets

#include "bridge/inspect/program_probe.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <utility>

#include "bridge/node/shell.h"
#include "bridge/util/base64.h"

namespace kdap::inspect {
namespace {

constexpr auto kProbeTimeout = std::chrono::seconds(30);
constexpr std::uint64_t kMaxBuildInfoBytes = 256 * 1024;

// Shell functions shared by both rounds. cut_ seeks with dd instead of reading up to the offset (the section
// header table sits at the end of a 200 MB binary). Every read is capped, errors go to /dev/null, and a short
// read only yields fewer bytes: the C++ parser judges what arrives.
constexpr std::string_view kPrelude = R"sh(m=
for t in dd tail head od wc tr base64; do command -v $t >/dev/null 2>&1 || m="$m $t"; done
if [ -n "$m" ]; then echo "@lacking$m"; exit 0; fi
cut_() {
  dd if="$1" bs=4096 skip=$(($2 / 4096)) count=$((($2 % 4096 + $3 + 4095) / 4096)) 2>/dev/null |
    tail -c +$(($2 % 4096 + 1)) | head -c "$3"
}
)sh";

// p FILE prints one record; the size comes from stat where it exists, since busybox's wc -c reads the whole
// file. ni decodes an integer from the bytes in $B (od's decimal list) in the file's own byte order ($e: 1
// little, 2 big endian), so the node's byte order never matters. It never shifts past the end of the list:
// a failing shift would end the whole script.
constexpr std::string_view kRecordFunction = R"sh(ni() {
  o_=$1 w_=$2 v=0 r=
  set -- $B
  [ $# -ge $((o_ + w_)) ] || return 0
  shift "$o_"
  while [ "$w_" -gt 0 ]; do
    if [ "$e" = 2 ]; then r="$r $1"; else r="$1 $r"; fi
    shift; w_=$((w_ - 1))
  done
  for b in $r; do v=$((v * 256 + b)); done
}
p() {
  f=$1
  if [ ! -e "$f" ]; then echo @missing; return 0; fi
  if [ ! -f "$f" ]; then echo @notfile; return 0; fi
  if [ ! -r "$f" ]; then echo @unreadable; return 0; fi
  z=$( (stat -L -c %s -- "$f" || wc -c <"$f") 2>/dev/null | tr -dc 0-9); z=${z:-0}
  echo "@size $z"
  echo @head; head -c 64 -- "$f" | base64
  B=$(od -An -v -t u1 -N 64 -- "$f")
  set -- $B 0 0 0 0 0 0
  [ "$1 $2 $3 $4" = "127 69 76 70" ] || return 0
  e=$6
  if [ "$5" = 2 ]; then w=8 h=58 so=24 ss=32 sl=40; ni 40 8
  else w=4 h=46 so=16 ss=20 sl=24; ni 32 4; fi
  o=$v; ni $h 2; es=$v; ni $((h + 2)) 2; n=$v; ni $((h + 4)) 2; x=$v
  [ "$o" -gt 0 ] && [ "$o" -lt "$z" ] && [ "$es" -gt 0 ] || return 0
  if [ "$n" = 0 ] || [ "$x" = 65535 ]; then
    B=$(cut_ "$f" "$o" 64 | od -An -v -t u1)
    [ "$n" = 0 ] && ni $ss $w && n=$v
    [ "$x" = 65535 ] && ni $sl 4 && x=$v
  fi
  t=$((n * es))
  [ "$t" -ge 0 ] && [ "$t" -le 4194304 ] || t=4194304
  echo @shdrs; cut_ "$f" "$o" "$t" | base64
  a=$((o + x * es))
  [ "$x" -gt 0 ] && [ "$a" -gt 0 ] && [ "$a" -lt "$z" ] || return 0
  B=$(cut_ "$f" "$a" 64 | od -An -v -t u1)
  ni $so $w; q=$v; ni $ss $w; l=$v
  [ "$q" -ge 0 ] && [ "$q" -lt "$z" ] || return 0
  [ "$l" -ge 0 ] && [ "$l" -le 1048576 ] || l=1048576
  echo @shstrtab; cut_ "$f" "$q" "$l" | base64
}
)sh";

std::string round_one_script(const std::vector<std::string>& paths) {
  std::string script(kPrelude);
  script += kRecordFunction;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    script += "echo '@rec " + std::to_string(i) + "'; p " + node::shell_quote(paths[i]) + "; echo @end\n";
  }
  script += "echo @done\n";
  return script;
}

struct BuildInfoRead {
  std::size_t index;
  std::uint64_t offset;
  std::uint64_t size;
};

std::string round_two_script(const std::vector<std::string>& paths, const std::vector<BuildInfoRead>& reads) {
  std::string script(kPrelude);
  for (const auto& r : reads) {
    script += "echo '@rec " + std::to_string(r.index) + "'; echo @buildinfo; cut_ " +
              node::shell_quote(paths[r.index]) + " " + std::to_string(r.offset) + " " +
              std::to_string(r.size) + " | base64; echo @end\n";
  }
  script += "echo @done\n";
  return script;
}

// One record of the node's answer; fields hold base64 text until decoded.
struct Record {
  std::string state;  // "", "missing", "notfile", "unreadable"
  std::optional<std::uint64_t> size;
  std::map<std::string, std::string, std::less<>> fields;
  bool ended = false;
};

std::optional<std::uint64_t> to_number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Parses "@rec N" … "@end" blocks; throws NodeError when the answer is cut short or a tool is missing.
std::map<std::size_t, Record> parse_answer(const node::CommandResult& r, const node::Node& node,
                                           std::size_t path_count) {
  auto fail = [&](const std::string& why) {
    return node::NodeError("cannot inspect programs on " + node.describe() + ": " + why +
                           (r.err.empty() ? "" : " (" + r.err.substr(0, 500) + ")"));
  };
  if (!r.ok()) throw fail("the probe exited with status " + std::to_string(r.exit_status));
  std::map<std::size_t, Record> records;
  Record* current = nullptr;
  std::string* field = nullptr;
  bool done = false;
  std::string_view out = r.out;
  while (!out.empty()) {
    auto nl = out.find('\n');
    auto line = out.substr(0, nl);
    out.remove_prefix(nl == std::string_view::npos ? out.size() : nl + 1);
    if (!line.starts_with("@")) {
      if (field != nullptr) field->append(line);
      continue;
    }
    field = nullptr;
    if (line.starts_with("@lacking ")) {
      throw fail("the node lacks" + std::string(line.substr(8)) +
                 ", which kdap needs to read programs there");
    } else if (line.starts_with("@rec ")) {
      auto index = to_number(line.substr(5));
      if (!index || *index >= path_count) throw fail("unexpected answer line " + std::string(line));
      current = &records[*index];
    } else if (line == "@done") {
      done = true;
    } else if (current == nullptr) {
      throw fail("unexpected answer line " + std::string(line));
    } else if (line == "@end") {
      current->ended = true;
      current = nullptr;
    } else if (line == "@missing" || line == "@notfile" || line == "@unreadable") {
      current->state = std::string(line.substr(1));
    } else if (line.starts_with("@size ")) {
      current->size = to_number(line.substr(6));
    } else {
      field = &current->fields[std::string(line.substr(1))];
    }
  }
  if (!done) throw fail("the answer ended early");
  return records;
}

std::string decoded(const Record& rec, std::string_view name) {
  auto it = rec.fields.find(name);
  return it == rec.fields.end() ? std::string() : decode_base64(it->second).value_or(std::string());
}

void fill_from_first_round(ProgramReport& report, const Record* rec) {
  if (rec == nullptr || !rec->ended) {
    report.error = "the node's answer has no complete record for this path";
    return;
  }
  if (rec->state == "missing") {
    report.error = "not found";
    return;
  }
  report.exists = true;
  if (rec->state == "notfile") {
    report.error = "not a regular file";
    return;
  }
  if (rec->state == "unreadable") {
    report.error = "not readable by the node's user";
    return;
  }
  report.size = rec->size.value_or(0);
  auto header = decoded(*rec, "head");
  report.first_bytes = header;
  report.is_elf = looks_like_elf(header);
  if (!report.is_elf) {
    report.error = "not an ELF file";
    return;
  }
  try {
    report.elf = parse_elf_sections(header, decoded(*rec, "shdrs"), decoded(*rec, "shstrtab"), rec->size);
    report.has_debug_info = report.elf->has_debug_info();
  } catch (const InspectError& e) {
    report.error = std::string("malformed ELF: ") + e.what();
  }
}

std::string quoted_start(std::string_view bytes) {
  auto line = bytes.substr(0, std::min(bytes.find('\n'), std::size_t{32}));
  std::string shown;
  for (char c : line) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  return "\"" + shown + "\"";
}

const std::string kRebuild =
    "Rebuild without them (Kubernetes: `make all DBG=1`, which also turns optimizations off; or drop -s -w "
    "from hack/lib/golang.sh and build with `make all GOGCFLAGS=\"all=-N -l\"`)";

}  // namespace

asio::awaitable<std::vector<ProgramReport>> inspect_programs(node::Node& node,
                                                             std::vector<std::string> paths) {
  std::vector<ProgramReport> reports(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) reports[i].path = paths[i];
  if (paths.empty()) co_return reports;

  auto first = co_await node.run(round_one_script(paths), kProbeTimeout, std::string());
  auto records = parse_answer(first, node, paths.size());
  std::vector<BuildInfoRead> reads;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto it = records.find(i);
    fill_from_first_round(reports[i], it == records.end() ? nullptr : &it->second);
    const ElfSection* section = reports[i].elf ? reports[i].elf->find(".go.buildinfo") : nullptr;
    if (section != nullptr && section->size > 0) {
      reads.push_back({i, section->offset, std::min(section->size, kMaxBuildInfoBytes)});
    }
  }
  if (reads.empty()) co_return reports;

  auto second = co_await node.run(round_two_script(paths, reads), kProbeTimeout, std::string());
  records = parse_answer(second, node, paths.size());
  for (const auto& read : reads) {
    auto& report = reports[read.index];
    auto it = records.find(read.index);
    if (it == records.end() || !it->second.ended) {
      report.error = "the node's answer has no Go build info for this path";
      continue;
    }
    try {
      report.go = parse_go_buildinfo(decoded(it->second, "buildinfo"));
    } catch (const InspectError& e) {
      report.error = std::string("cannot read the Go build info: ") + e.what();
    }
  }
  co_return reports;
}

std::vector<Problem> problems(const ProgramReport& report) {
  using Severity = Problem::Severity;
  std::vector<Problem> found;
  auto error = [&](std::string message) { found.push_back({Severity::kError, std::move(message)}); };
  auto warning = [&](std::string message) { found.push_back({Severity::kWarning, std::move(message)}); };
  const auto& path = report.path;
  if (!report.exists) {
    error(path + " was not found on the node" +
          (report.error.empty() || report.error == "not found" ? std::string() : " (" + report.error + ")"));
    return found;
  }
  if (!report.is_elf) {
    if (report.first_bytes.starts_with("#!")) {
      error(path + " is a script (it starts with " + quoted_start(report.first_bytes) +
            "), not a Go binary: set program to the binary the script runs");
    } else if (report.error.empty() || report.error == "not an ELF file") {
      error(path + " is not a Go binary (not an ELF file)");
    } else {
      error(path + " cannot be inspected: " + report.error);
    }
    return found;
  }
  if (!report.elf) {
    error(path + " cannot be read as an executable: " + report.error);
    return found;
  }
  const auto& go = report.go;
  if (!go && report.error.empty()) {
    error(path + " is not a Go program (it has no .go.buildinfo section); Delve debugs Go programs only");
  } else if (!go) {
    warning(path + ": " + report.error);
  }
  if (!report.has_debug_info) {
    std::string why;
    auto gcflags = go ? go->setting("-gcflags") : std::string();
    if (gcflags.find("-dwarf=false") != std::string::npos) {
      why = "it was built with -gcflags=\"" + gcflags + "\". Rebuild without -dwarf=false";
    } else if (go && go->stripped_by_ldflags()) {
      why = "it was built with -ldflags \"" + go->setting("-ldflags") + "\". " + kRebuild;
    } else if (go && go->setting("-trimpath") == "true" && go->setting("-ldflags").empty()) {
      // Go leaves -ldflags out of -trimpath builds, which is how Kubernetes builds releases.
      why =
          "it was most likely built with -ldflags \"-s -w\" (Go does not record -ldflags of -trimpath "
          "builds). " +
          kRebuild;
    } else {
      why =
          "it was stripped after the build (strip, objcopy or a packaging step). Deploy the binary as "
          "`go build` left it, built without -ldflags \"-s -w\"";
    }
    error(path + " has no DWARF debug info: " + why);
  }
  if (go && go->legacy_format) {
    warning(path +
            " was built with a Go older than 1.18: kdap cannot tell how it was built, and current "
            "Delve releases do not support it");
  } else if (go) {
    switch (go->optimizations()) {
      case GoOptimizations::kOn:
        warning(path +
                " was built without -gcflags=all=-N -l: variables may show as optimized away and lines "
                "may jump (Kubernetes: `make all DBG=1`, or `make all GOGCFLAGS=\"all=-N -l\"`)");
        break;
      case GoOptimizations::kOffInMainPackage:
        warning(path + " was built with -gcflags=\"" + go->setting("-gcflags") +
                "\", which turns optimizations off in the main package only: every other package stays "
                "optimized. Use -gcflags=\"all=-N -l\"");
        break;
      case GoOptimizations::kOffInSomePackages:
        warning(path + " was built with -gcflags=\"" + go->setting("-gcflags") +
                "\", which turns optimizations off only in packages matching " +
                go->optimizations_off_pattern() + ". Use -gcflags=\"all=-N -l\" to debug the rest too");
        break;
      case GoOptimizations::kOffEverywhere:
        break;
    }
  }
  return found;
}

}  // namespace kdap::inspect

#pragma once
// What a Go program on the node was built with, read from a few pieces of its file: the ELF header, the
// section header table, the section name table and the .go.buildinfo section. Nothing here reads files: the
// pieces come from the node (program_probe.h), so every offset and length in them is untrusted.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kdap::inspect {

class InspectError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ElfSection {
  std::string name;
  std::uint32_t type = 0;  // SHT_*: 1 PROGBITS, 8 NOBITS (no bytes in the file), …
  std::uint64_t flags = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

struct ElfSections {
  int elf_class = 0;  // 32 or 64
  bool big_endian = false;
  std::uint16_t machine_code = 0;  // e_machine
  std::string machine;             // GOARCH spelling: "amd64", "arm64", …; "unknown (e_machine N)"
  std::vector<ElfSection> sections;

  // DWARF is what Delve needs to map code to lines and variables; Go writes .debug_info (compressed with
  // SHF_COMPRESSED since Go 1.11, .zdebug_info before that).
  bool has_debug_info() const;
  const ElfSection* find(std::string_view name) const;
};

// `header`: the file's first bytes (52 for ELF32, 64 for ELF64 suffice). `section_headers`: the bytes at
// e_shoff, at least e_shnum * e_shentsize of them. `shstrtab`: the bytes of section e_shstrndx. With
// `file_size`, sections whose bytes would lie beyond the end of the file are rejected too (a truncated copy).
// Throws InspectError on anything malformed or short; never reads outside the given views.
ElfSections parse_elf_sections(std::string_view header, std::string_view section_headers,
                               std::string_view shstrtab, std::optional<std::uint64_t> file_size = {});

// Class, byte order and machine from the ELF header alone (no sections). Throws InspectError.
ElfSections parse_elf_header(std::string_view header);

// True when `header` starts with the ELF magic.
bool looks_like_elf(std::string_view header);

struct GoModule {
  std::string path;
  std::string version;  // "(devel)" for the main module built from a checkout
  std::string sum;
  std::string replace_path;  // from a "=>" line: where the module's code really came from
  std::string replace_version;
};

enum class GoOptimizations {
  kOn,                 // the default build: Delve shows "optimized away" variables and jumpy stepping
  kOffInMainPackage,   // -gcflags="-N -l" without a pattern: only the packages named on the command line
  kOffInSomePackages,  // -gcflags="<pattern>=-N -l" with a pattern other than all
  kOffEverywhere,      // -gcflags="all=-N -l"
};

struct GoBuildInfo {
  std::string go_version;  // "go1.26.8"; "unknown (Go < 1.18 format)" for the old pointer-based layout
  bool legacy_format = false;
  int pointer_size = 0;
  std::string main_package;  // the "path" line: "k8s.io/kubernetes/cmd/kube-scheduler"
  GoModule main_module;
  std::vector<GoModule> dependencies;
  // The "build" lines, unquoted: "-gcflags" → "all=-N -l", "-ldflags" → "-s -w", "-trimpath" → "true",
  // "CGO_ENABLED" → "0", "GOARCH" → "amd64", "vcs.revision" → "…". Go leaves -ldflags out of -trimpath
  // builds (it may name paths of the build machine), so its absence proves nothing there.
  std::map<std::string, std::string> settings;

  std::string setting(const std::string& key) const;  // "" when absent
  GoOptimizations optimizations() const;
  // The package pattern -N -l apply to: "all", "" (main package only), "k8s.io/...", …
  std::string optimizations_off_pattern() const;
  bool optimizations_disabled() const { return optimizations() == GoOptimizations::kOffEverywhere; }
  bool stripped_by_ldflags() const;  // -s or -w in the recorded -ldflags
};

// `section_bytes`: the start of the .go.buildinfo section (the whole section is usually under 64 KiB; the
// dependency list is what makes it grow). Throws InspectError on a bad magic or truncated strings.
GoBuildInfo parse_go_buildinfo(std::string_view section_bytes);

struct GoRelease {
  int major = 0;
  int minor = 0;
  int patch = 0;  // 0 for "go1.21rc2" and "go1.20"
};
// "go1.26.8" → {1, 26, 8}; also "go1.22rc1", "go1.21.0 X:boringcrypto", "devel go1.27-abcdef …".
std::optional<GoRelease> parse_go_release(std::string_view version);

}  // namespace kdap::inspect

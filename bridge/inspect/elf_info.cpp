#include "bridge/inspect/elf_info.h"

#include <algorithm>
#include <cstring>

namespace kdap::inspect {
namespace {

constexpr std::string_view kElfMagic(
    "\x7f"
    "ELF",
    4);
constexpr std::string_view kBuildInfoMagic("\xff Go buildinf:", 14);
constexpr std::size_t kBuildInfoHeaderSize = 32;
constexpr std::uint8_t kBuildInfoFlagInline = 0x2;
constexpr std::size_t kModInfoSentinelSize = 16;
constexpr std::uint32_t kShtNobits = 8;
constexpr std::uint16_t kShnXindex = 0xffff;

// Bounds-checked integer reads in the file's byte order; every offset comes from the untrusted file.
class Bytes {
 public:
  Bytes(std::string_view data, bool big_endian, std::string_view what)
      : data_(data), big_endian_(big_endian), what_(what) {}

  std::uint64_t uint(std::uint64_t offset, std::size_t width) const {
    if (offset > data_.size() || width > data_.size() - offset) {
      throw InspectError(std::string(what_) + " is truncated: " + std::to_string(width) +
                         " bytes at offset " + std::to_string(offset) + " needed, " +
                         std::to_string(data_.size()) + " available");
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) {
      auto byte = static_cast<unsigned char>(data_[offset + (big_endian_ ? i : width - 1 - i)]);
      v = (v << 8) | byte;
    }
    return v;
  }

 private:
  std::string_view data_;
  bool big_endian_;
  std::string_view what_;
};

// Where the fields sit in the 32-bit and 64-bit layouts (ELF specification, "ELF Header", "Sections").
struct Layout {
  std::size_t header_size, addr;
  std::size_t e_shoff, e_shentsize, e_shnum, e_shstrndx;
  std::size_t shdr_size, sh_flags, sh_offset, sh_size, sh_link;
};
constexpr Layout kElf32{52, 4, 32, 46, 48, 50, 40, 8, 16, 20, 24};
constexpr Layout kElf64{64, 8, 40, 58, 60, 62, 64, 8, 24, 32, 40};

std::string machine_name(std::uint16_t machine, int elf_class, bool big_endian) {
  bool is64 = elf_class == 64;
  switch (machine) {
    case 3:
      return "386";
    case 8:
      return std::string(is64 ? "mips64" : "mips") + (big_endian ? "" : "le");
    case 20:
      return "ppc";
    case 21:
      return big_endian ? "ppc64" : "ppc64le";
    case 22:
      return "s390x";
    case 40:
      return "arm";
    case 62:
      return "amd64";
    case 183:
      return "arm64";
    case 243:
      return is64 ? "riscv64" : "riscv";
    case 258:
      return "loong64";
    default:
      return "unknown (e_machine " + std::to_string(machine) + ")";
  }
}

bool fits(std::uint64_t offset, std::uint64_t size, std::uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

std::uint64_t read_uvarint(std::string_view data, std::size_t& pos) {
  std::uint64_t value = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (pos >= data.size()) throw InspectError("Go build info is truncated inside a length");
    auto byte = static_cast<unsigned char>(data[pos++]);
    if (shift == 63 && byte > 1) break;
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) return value;
  }
  throw InspectError("Go build info has an oversized length");
}

std::string_view read_string(std::string_view data, std::size_t& pos, std::string_view what) {
  auto length = read_uvarint(data, pos);
  if (length > data.size() - pos) {
    throw InspectError("Go build info is truncated: the " + std::string(what) + " needs " +
                       std::to_string(length) + " bytes, " + std::to_string(data.size() - pos) + " left");
  }
  auto s = data.substr(pos, length);
  pos += length;
  return s;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Length of the Go-quoted string ("…" with backslash escapes, or `…`) at the start of `s`; npos if none.
std::size_t quoted_prefix(std::string_view s) {
  if (s.empty() || (s[0] != '"' && s[0] != '`')) return std::string_view::npos;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[0] == '"' && s[i] == '\\') {
      ++i;
    } else if (s[i] == s[0]) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// strconv.Unquote for what debug.BuildSetting.String produces (strconv.Quote); nullopt when malformed.
std::optional<std::string> go_unquote(std::string_view s) {
  if (quoted_prefix(s) != s.size()) return std::nullopt;
  auto body = s.substr(1, s.size() - 2);
  if (s[0] == '`') return std::string(body);
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\') {
      out += body[i];
      continue;
    }
    if (++i >= body.size()) return std::nullopt;
    char c = body[i];
    std::size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits > 0) {
      if (body.size() - i - 1 < digits) return std::nullopt;
      std::uint32_t v = 0;
      for (std::size_t k = 1; k <= digits; ++k) {
        int d = hex_digit(body[i + k]);
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<std::uint32_t>(d);
      }
      i += digits;
      if (c == 'x') {
        out += static_cast<char>(v);
      } else {
        if (v > 0x10ffff) return std::nullopt;
        append_utf8(out, v);
      }
      continue;
    }
    if (c >= '0' && c <= '7') {
      if (body.size() - i < 3) return std::nullopt;
      unsigned v = 0;
      for (std::size_t k = 0; k < 3; ++k) {
        if (body[i + k] < '0' || body[i + k] > '7') return std::nullopt;
        v = v * 8 + static_cast<unsigned>(body[i + k] - '0');
      }
      if (v > 255) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
      continue;
    }
    static constexpr std::string_view kFrom = "abfnrtv\\'\"";
    static constexpr std::string_view kTo = "\a\b\f\n\r\t\v\\'\"";
    auto at = kFrom.find(c);
    if (at == std::string_view::npos) return std::nullopt;
    out += kTo[at];
  }
  return out;
}

std::string unquote_or_raw(std::string_view s) {
  if (s.empty() || (s[0] != '"' && s[0] != '`')) return std::string(s);
  auto v = go_unquote(s);
  return v ? *v : std::string(s);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    std::size_t start = i;
    while (i < s.size() && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// cmd/go's per-package flags (-gcflags, -ldflags): "pattern=flags" when the value does not start with "-".
std::pair<std::string_view, std::string_view> split_package_pattern(std::string_view value) {
  auto trimmed = value.substr(std::min(value.find_first_not_of(" \t"), value.size()));
  auto eq = trimmed.find('=');
  if (trimmed.empty() || trimmed[0] == '-' || eq == std::string_view::npos) return {"", trimmed};
  return {trimmed.substr(0, eq), trimmed.substr(eq + 1)};
}

// A Go boolean flag as the go command's flag package accepts it: -x, --x, -x=true, -x=1, …
bool bool_flag_on(std::string_view token, std::string_view name) {
  if (token.starts_with("--")) token.remove_prefix(1);
  if (!token.starts_with("-")) return false;
  token.remove_prefix(1);
  if (!token.starts_with(name)) return false;
  token.remove_prefix(name.size());
  if (token.empty()) return true;
  if (token[0] != '=') return false;
  token.remove_prefix(1);
  return token == "1" || token == "t" || token == "T" || token == "true" || token == "TRUE" ||
         token == "True";
}

bool has_flag(std::string_view flags, std::string_view name) {
  auto tokens = words(flags);
  return std::any_of(tokens.begin(), tokens.end(), [&](std::string_view t) { return bool_flag_on(t, name); });
}

void parse_build_line(std::string_view kv, GoBuildInfo& info) {
  std::string key;
  std::string_view raw_value;
  if (kv.empty() || kv[0] == '=') return;
  if (kv[0] == '"' || kv[0] == '`') {
    auto n = quoted_prefix(kv);
    if (n == std::string_view::npos || n >= kv.size() || kv[n] != '=') return;
    key = unquote_or_raw(kv.substr(0, n));
    raw_value = kv.substr(n + 1);
  } else {
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) return;
    key = std::string(kv.substr(0, eq));
    raw_value = kv.substr(eq + 1);
  }
  info.settings[key] = unquote_or_raw(raw_value);
}

GoModule parse_module(std::string_view fields) {
  auto parts = split(fields, '\t');
  GoModule m;
  m.path = std::string(parts[0]);
  if (parts.size() > 1) m.version = std::string(parts[1]);
  if (parts.size() > 2) m.sum = std::string(parts[2]);
  return m;
}

void parse_modinfo(std::string_view modinfo, GoBuildInfo& info) {
  GoModule* last = nullptr;
  for (auto line : split(modinfo, '\n')) {
    if (line.starts_with("path\t")) {
      info.main_package = std::string(line.substr(5));
    } else if (line.starts_with("mod\t")) {
      info.main_module = parse_module(line.substr(4));
      last = &info.main_module;
    } else if (line.starts_with("dep\t")) {
      info.dependencies.push_back(parse_module(line.substr(4)));
      last = &info.dependencies.back();
    } else if (line.starts_with("=>\t")) {
      if (last != nullptr) {
        auto r = parse_module(line.substr(3));
        last->replace_path = r.path;
        last->replace_version = r.version;
      }
    } else if (line.starts_with("build\t")) {
      parse_build_line(line.substr(6), info);
    } else if (line.starts_with("go\t") && info.go_version.empty()) {
      info.go_version = std::string(line.substr(3));
    }
  }
}

}  // namespace

bool looks_like_elf(std::string_view header) {
  return header.starts_with(kElfMagic);
}

bool ElfSections::has_debug_info() const {
  return find(".debug_info") || find(".zdebug_info");
}

const ElfSection* ElfSections::find(std::string_view name) const {
  for (const auto& s : sections) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

ElfSections parse_elf_header(std::string_view header) {
  if (header.size() < 16) throw InspectError("too short for an ELF header");
  if (!looks_like_elf(header)) throw InspectError("not an ELF file");
  ElfSections elf;
  switch (header[4]) {
    case 1:
      elf.elf_class = 32;
      break;
    case 2:
      elf.elf_class = 64;
      break;
    default:
      throw InspectError("unknown ELF class " + std::to_string(static_cast<unsigned char>(header[4])));
  }
  switch (header[5]) {
    case 1:
      elf.big_endian = false;
      break;
    case 2:
      elf.big_endian = true;
      break;
    default:
      throw InspectError("unknown ELF byte order " + std::to_string(static_cast<unsigned char>(header[5])));
  }
  const Layout& l = elf.elf_class == 64 ? kElf64 : kElf32;
  if (header.size() < l.header_size) throw InspectError("the ELF header is truncated");
  Bytes h(header, elf.big_endian, "the ELF header");
  elf.machine_code = static_cast<std::uint16_t>(h.uint(18, 2));
  elf.machine = machine_name(elf.machine_code, elf.elf_class, elf.big_endian);
  return elf;
}

ElfSections parse_elf_sections(std::string_view header, std::string_view section_headers,
                               std::string_view shstrtab, std::optional<std::uint64_t> file_size) {
  ElfSections elf = parse_elf_header(header);
  const Layout& l = elf.elf_class == 64 ? kElf64 : kElf32;
  Bytes h(header, elf.big_endian, "the ELF header");
  std::uint64_t shoff = h.uint(l.e_shoff, l.addr);
  std::uint64_t entsize = h.uint(l.e_shentsize, 2);
  std::uint64_t count = h.uint(l.e_shnum, 2);
  std::uint64_t strndx = h.uint(l.e_shstrndx, 2);
  if (shoff == 0) {
    if (count != 0) throw InspectError("the ELF header lists sections but no section header table");
    return elf;  // no section table at all (sstrip): nothing to find, not malformed
  }
  if (entsize < l.shdr_size) {
    throw InspectError("ELF section header entries of " + std::to_string(entsize) + " bytes are too small");
  }
  Bytes table(section_headers, elf.big_endian, "the ELF section header table");
  // With 0xff00 sections or more, the real count and name table index live in section 0 (extended numbering).
  if (count == 0) count = table.uint(l.sh_size, l.addr);
  if (strndx == kShnXindex) strndx = table.uint(l.sh_link, 4);
  if (count > section_headers.size() / entsize) {
    throw InspectError("the ELF section header table is truncated: " + std::to_string(count) +
                       " entries of " + std::to_string(entsize) + " bytes, " +
                       std::to_string(section_headers.size()) + " bytes read");
  }
  if (strndx >= count && strndx != 0) {
    throw InspectError("the ELF section name table index " + std::to_string(strndx) + " is out of range");
  }
  if (file_size && !fits(shoff, count * entsize, *file_size)) {
    throw InspectError("the ELF section header table lies beyond the end of the file (truncated copy?)");
  }

  elf.sections.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t base = i * entsize;
    ElfSection s;
    auto name_offset = table.uint(base, 4);
    s.type = static_cast<std::uint32_t>(table.uint(base + 4, 4));
    s.flags = table.uint(base + l.sh_flags, l.addr);
    s.offset = table.uint(base + l.sh_offset, l.addr);
    s.size = table.uint(base + l.sh_size, l.addr);
    if (strndx != 0) {
      if (name_offset >= shstrtab.size()) {
        throw InspectError("ELF section " + std::to_string(i) + " has a name offset outside the name table");
      }
      auto end = shstrtab.find('\0', name_offset);
      if (end == std::string_view::npos) {
        throw InspectError("ELF section " + std::to_string(i) + " has an unterminated name");
      }
      s.name = std::string(shstrtab.substr(name_offset, end - name_offset));
    }
    if (file_size && s.type != kShtNobits && !fits(s.offset, s.size, *file_size)) {
      throw InspectError("ELF section " + (s.name.empty() ? std::to_string(i) : s.name) +
                         " lies beyond the end of the file (truncated copy?)");
    }
    elf.sections.push_back(std::move(s));
  }
  return elf;
}

std::string GoBuildInfo::setting(const std::string& key) const {
  auto it = settings.find(key);
  return it == settings.end() ? std::string() : it->second;
}

std::string GoBuildInfo::optimizations_off_pattern() const {
  auto gcflags = setting("-gcflags");
  return std::string(split_package_pattern(gcflags).first);
}

GoOptimizations GoBuildInfo::optimizations() const {
  auto gcflags = setting("-gcflags");
  auto [pattern, flags] = split_package_pattern(gcflags);
  if (!has_flag(flags, "N") || !has_flag(flags, "l")) return GoOptimizations::kOn;
  if (pattern == "all") return GoOptimizations::kOffEverywhere;
  if (pattern.empty()) return GoOptimizations::kOffInMainPackage;
  return GoOptimizations::kOffInSomePackages;
}

bool GoBuildInfo::stripped_by_ldflags() const {
  auto ldflags = setting("-ldflags");
  auto flags = split_package_pattern(ldflags).second;
  return has_flag(flags, "s") || has_flag(flags, "w");
}

GoBuildInfo parse_go_buildinfo(std::string_view section_bytes) {
  if (section_bytes.size() < kBuildInfoHeaderSize)
    throw InspectError("the Go build info section is truncated");
  if (!section_bytes.starts_with(kBuildInfoMagic)) {
    throw InspectError("the .go.buildinfo section does not start with the Go build info magic");
  }
  GoBuildInfo info;
  info.pointer_size = static_cast<unsigned char>(section_bytes[14]);
  auto flags = static_cast<std::uint8_t>(section_bytes[15]);
  if ((flags & kBuildInfoFlagInline) == 0) {
    // Before Go 1.18 the header held pointers to the strings; following them needs the program headers.
    info.legacy_format = true;
    info.go_version = "unknown (Go < 1.18 format)";
    return info;
  }
  std::size_t pos = kBuildInfoHeaderSize;
  auto version = read_string(section_bytes, pos, "Go version");
  auto modinfo = read_string(section_bytes, pos, "module information");
  if (version.empty()) throw InspectError("the Go build info has an empty Go version");
  info.go_version = std::string(version);
  // debug/buildinfo's test for a module-mode build: sentinels of 16 bytes around text ending in a newline.
  if (modinfo.size() >= 2 * kModInfoSentinelSize + 1 &&
      modinfo[modinfo.size() - kModInfoSentinelSize - 1] == '\n') {
    parse_modinfo(modinfo.substr(kModInfoSentinelSize, modinfo.size() - 2 * kModInfoSentinelSize), info);
  }
  return info;
}

std::optional<GoRelease> parse_go_release(std::string_view version) {
  std::size_t at = 0;
  for (;;) {
    at = version.find("go", at);
    if (at == std::string_view::npos) return std::nullopt;
    if (at + 2 < version.size() && version[at + 2] >= '0' && version[at + 2] <= '9') break;
    at += 2;
  }
  std::size_t i = at + 2;
  auto number = [&](int& into) {
    std::size_t start = i;
    long v = 0;
    while (i < version.size() && version[i] >= '0' && version[i] <= '9' && i - start < 6) {
      v = v * 10 + (version[i] - '0');
      ++i;
    }
    into = static_cast<int>(v);
    return i > start;
  };
  GoRelease r;
  if (!number(r.major)) return std::nullopt;
  if (i >= version.size() || version[i] != '.') return std::nullopt;
  ++i;
  if (!number(r.minor)) return std::nullopt;
  if (i < version.size() && version[i] == '.') {
    ++i;
    if (!number(r.patch)) return std::nullopt;
  }
  return r;
}

}  // namespace kdap::inspect

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "bridge/inspect/elf_info.h"
#include "bridge/inspect/program_probe.h"
#include "bridge/node/local_node.h"
#include "tests/unit/bridge/temp_files.h"

namespace kdap::inspect {
namespace {

namespace fs = std::filesystem;
using kdap::testing::TempDir;
using kdap::testing::write_file;

#ifdef KDAP_SAMPLE_DEBUG
#define REQUIRE_GO_SAMPLES()
const std::string kDebug = KDAP_SAMPLE_DEBUG;
const std::string kOptimized = KDAP_SAMPLE_OPTIMIZED;
const std::string kStripped = KDAP_SAMPLE_STRIPPED;
const std::string kGoVersionFile = KDAP_SAMPLE_GOVERSION_FILE;
#else
#define REQUIRE_GO_SAMPLES() GTEST_SKIP() << "go was not found when the build was configured"
const std::string kDebug, kOptimized, kStripped, kGoVersionFile;
#endif

std::string host_goarch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#else
  return "unknown";
#endif
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string bytes(fs::file_size(path), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

std::string built_go_version() {
  auto v = slurp(kGoVersionFile);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v;
}

std::uint64_t le(std::string_view s, std::size_t offset, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i)
    v |= std::uint64_t{static_cast<unsigned char>(s.at(offset + i))} << (8 * i);
  return v;
}

// The pieces inspect_programs fetches from the node, cut here straight from a little-endian ELF64 file.
struct Pieces {
  std::string file, header, table, shstrtab;
  std::uint64_t shoff = 0;
};

Pieces cut_elf64(const std::string& path) {
  Pieces p;
  p.file = slurp(path);
  p.header = p.file.substr(0, 64);
  p.shoff = le(p.file, 40, 8);
  auto entsize = le(p.file, 58, 2), count = le(p.file, 60, 2), strndx = le(p.file, 62, 2);
  p.table = p.file.substr(p.shoff, count * entsize);
  auto entry = p.shoff + strndx * entsize;
  p.shstrtab = p.file.substr(le(p.file, entry + 24, 8), le(p.file, entry + 32, 8));
  return p;
}

ElfSections parse(const Pieces& p) {
  return parse_elf_sections(p.header, p.table, p.shstrtab, p.file.size());
}

std::string buildinfo_bytes(const Pieces& p) {
  auto elf = parse(p);
  auto* s = elf.find(".go.buildinfo");
  if (s == nullptr) throw std::runtime_error("no .go.buildinfo");
  return p.file.substr(s->offset, s->size);
}

// A heap copy of exactly `n` bytes, so that a read past the end is a real out-of-bounds access (which
// AddressSanitizer builds report) rather than a read of the rest of a larger string.
class Exact {
 public:
  Exact(std::string_view s, std::size_t n) : data_(new char[n == 0 ? 1 : n]), size_(n) {
    std::copy_n(s.data(), n, data_.get());
  }
  operator std::string_view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_;
};

// Synthetic ELF files in the layouts no host toolchain here produces: ELF32, big endian.
struct SynthSection {
  std::string name;
  std::uint32_t type = 1;
  std::string content;
};

struct Synth {
  std::string file, header, table, shstrtab;
};

void put(std::string& buf, std::size_t offset, std::uint64_t v, std::size_t width, bool big_endian) {
  if (buf.size() < offset + width) buf.resize(offset + width, '\0');
  for (std::size_t i = 0; i < width; ++i) {
    buf[offset + (big_endian ? width - 1 - i : i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
}

Synth make_elf(int elf_class, bool big_endian, std::uint16_t machine, std::vector<SynthSection> sections) {
  bool is64 = elf_class == 64;
  std::size_t header_size = is64 ? 64 : 52, entsize = is64 ? 64 : 40, w = is64 ? 8 : 4;
  sections.insert(sections.begin(), SynthSection{"", 0, ""});
  sections.push_back({".shstrtab", 3, ""});
  std::string names(1, '\0');
  std::vector<std::size_t> name_at;
  for (auto& s : sections) {
    if (s.name.empty()) {
      name_at.push_back(0);
      continue;
    }
    name_at.push_back(names.size());
    names += s.name + '\0';
  }
  sections.back().content = names;
  std::string file(header_size, '\0');
  std::vector<std::size_t> offsets;
  for (auto& s : sections) {
    while (file.size() % 8 != 0) file += '\0';
    offsets.push_back(s.content.empty() ? 0 : file.size());
    file += s.content;
  }
  while (file.size() % 8 != 0) file += '\0';
  std::size_t shoff = file.size();
  file.replace(0, 4,
               std::string("\x7f"
                           "ELF",
                           4));
  file[4] = static_cast<char>(is64 ? 2 : 1);
  file[5] = static_cast<char>(big_endian ? 2 : 1);
  file[6] = 1;
  put(file, 16, 2, 2, big_endian);
  put(file, 18, machine, 2, big_endian);
  put(file, 20, 1, 4, big_endian);
  put(file, is64 ? 40 : 32, shoff, w, big_endian);
  put(file, is64 ? 52 : 40, header_size, 2, big_endian);
  put(file, is64 ? 58 : 46, entsize, 2, big_endian);
  put(file, is64 ? 60 : 48, sections.size(), 2, big_endian);
  put(file, is64 ? 62 : 50, sections.size() - 1, 2, big_endian);
  std::string table;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    std::size_t base = i * entsize;
    put(table, base, name_at[i], 4, big_endian);
    put(table, base + 4, sections[i].type, 4, big_endian);
    put(table, base + (is64 ? 24 : 16), offsets[i], w, big_endian);
    put(table, base + (is64 ? 32 : 20), sections[i].content.size(), w, big_endian);
    put(table, base + entsize - 1, 0, 1, big_endian);  // the unused tail fields are zero
  }
  file += table;
  return {file, file.substr(0, header_size), table, names};
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

std::string uvarint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

const std::string kStartSentinel = from_hex("3077af0c9274080241e1c107e6d618e6");
const std::string kEndSentinel = from_hex("f932433186182072008242104116d8f2");

// The Go >= 1.18 layout the linker writes (cmd/link/internal/ld/data.go: buildinfo).
std::string make_buildinfo(const std::string& version, const std::string& modinfo) {
  std::string header("\xff Go buildinf:", 14);
  header += '\x08';
  header += '\x02';
  header.resize(32, '\0');
  auto mod = kStartSentinel + modinfo + kEndSentinel;
  return header + uvarint(version.size()) + version + uvarint(mod.size()) + mod;
}

// ---------------------------------------------------------------------------------------------------------
// Real Go binaries

TEST(ElfSections, FindsDebugInfoOnlyInTheUnstrippedBuilds) {
  REQUIRE_GO_SAMPLES();
  for (const auto& path : {kDebug, kOptimized, kStripped}) {
    auto pieces = cut_elf64(path);
    auto elf = parse(pieces);
    SCOPED_TRACE(path);
    EXPECT_EQ(elf.elf_class, 64);
    EXPECT_FALSE(elf.big_endian);
    EXPECT_EQ(elf.machine, host_goarch());
    EXPECT_EQ(elf.sections.size(), le(pieces.file, 60, 2));
    ASSERT_NE(elf.find(".text"), nullptr);
    EXPECT_EQ(elf.find(".text")->type, 1u);
    EXPECT_GT(elf.find(".text")->size, 1000u);
    ASSERT_NE(elf.find(".go.buildinfo"), nullptr);
    EXPECT_EQ(pieces.file.substr(elf.find(".go.buildinfo")->offset, 14), std::string("\xff Go buildinf:"));
    EXPECT_EQ(elf.find(".no-such-section"), nullptr);
    EXPECT_EQ(elf.has_debug_info(), path != kStripped);
    EXPECT_EQ(elf.find(".debug_line") != nullptr, path != kStripped);
  }
}

TEST(GoBuildInfo, ReportsTheGoVersionAndTellsTheThreeBuildsApart) {
  REQUIRE_GO_SAMPLES();
  auto go_version = built_go_version();
  ASSERT_TRUE(go_version.starts_with("go")) << go_version;
  auto debug = parse_go_buildinfo(buildinfo_bytes(cut_elf64(kDebug)));
  auto optimized = parse_go_buildinfo(buildinfo_bytes(cut_elf64(kOptimized)));
  auto stripped = parse_go_buildinfo(buildinfo_bytes(cut_elf64(kStripped)));
  for (const auto* info : {&debug, &optimized, &stripped}) {
    EXPECT_EQ(info->go_version, go_version);
    EXPECT_FALSE(info->legacy_format);
    EXPECT_EQ(info->pointer_size, 8);
    EXPECT_EQ(info->main_package, "kdap.test/fixtures/cmd/inspect-sample");
    EXPECT_EQ(info->main_module.path, "kdap.test/fixtures");
    EXPECT_EQ(info->main_module.version, "(devel)");
    EXPECT_EQ(info->setting("CGO_ENABLED"), "0");
    EXPECT_EQ(info->setting("GOARCH"), host_goarch());
    EXPECT_EQ(info->setting("GOOS"), "linux");
    EXPECT_EQ(info->setting("-compiler"), "gc");
  }
  EXPECT_EQ(debug.setting("-gcflags"), "all=-N -l");
  EXPECT_EQ(debug.optimizations(), GoOptimizations::kOffEverywhere);
  EXPECT_TRUE(debug.optimizations_disabled());
  EXPECT_FALSE(debug.stripped_by_ldflags());

  EXPECT_EQ(optimized.settings.count("-gcflags"), 0u);
  EXPECT_EQ(optimized.optimizations(), GoOptimizations::kOn);
  EXPECT_FALSE(optimized.optimizations_disabled());
  EXPECT_FALSE(optimized.stripped_by_ldflags());

  EXPECT_EQ(stripped.setting("-ldflags"), "-s -w");
  EXPECT_TRUE(stripped.stripped_by_ldflags());
  EXPECT_FALSE(stripped.optimizations_disabled());

  auto release = parse_go_release(go_version);
  ASSERT_TRUE(release);
  EXPECT_EQ(release->major, 1);
  EXPECT_GE(release->minor, 18);
}

TEST(ElfSections, EveryPrefixOfARealHeaderTableAndNameTableIsRejectedOrExact) {
  REQUIRE_GO_SAMPLES();
  auto p = cut_elf64(kDebug);
  auto full = parse(p);
  for (std::size_t n = 0; n < p.header.size(); ++n) {
    EXPECT_THROW(parse_elf_sections(Exact(p.header, n), p.table, p.shstrtab), InspectError) << n;
  }
  for (std::size_t n = 0; n < p.table.size(); ++n) {
    EXPECT_THROW(parse_elf_sections(p.header, Exact(p.table, n), p.shstrtab), InspectError) << n;
  }
  for (std::size_t n = 0; n <= p.shstrtab.size(); ++n) {
    try {
      auto elf = parse_elf_sections(p.header, p.table, Exact(p.shstrtab, n));
      ASSERT_EQ(elf.sections.size(), full.sections.size());
      for (std::size_t i = 0; i < elf.sections.size(); ++i)
        EXPECT_EQ(elf.sections[i].name, full.sections[i].name);
    } catch (const InspectError&) {
      EXPECT_LT(n, p.shstrtab.size());
    }
  }
  EXPECT_THROW(parse_elf_sections(p.header, p.table, Exact(p.shstrtab, 0)), InspectError);
}

TEST(ElfSections, SectionsBeyondTheEndOfTheFileAreRejected) {
  REQUIRE_GO_SAMPLES();
  auto p = cut_elf64(kDebug);
  EXPECT_NO_THROW(parse_elf_sections(p.header, p.table, p.shstrtab, p.file.size()));
  EXPECT_THROW(parse_elf_sections(p.header, p.table, p.shstrtab, p.shoff), InspectError);
  // Move .text past the end of the file in the table: a section, not the table, is out of bounds.
  auto elf = parse(p);
  std::size_t text = 0;
  while (elf.sections[text].name != ".text") ++text;
  auto table = p.table;
  put(table, text * 64 + 24, p.file.size() - 16, 8, false);
  try {
    parse_elf_sections(p.header, table, p.shstrtab, p.file.size());
    ADD_FAILURE() << "a section beyond the end of the file was accepted";
  } catch (const InspectError& e) {
    EXPECT_NE(std::string(e.what()).find(".text"), std::string::npos) << e.what();
  }
  // The same huge offset must not wrap around in the bounds arithmetic.
  put(table, text * 64 + 24, ~std::uint64_t{0} - 4, 8, false);
  EXPECT_THROW(parse_elf_sections(p.header, table, p.shstrtab, p.file.size()), InspectError);
}

TEST(GoBuildInfo, EveryPrefixOfTheRealSectionIsRejectedUntilTheStringsAreComplete) {
  REQUIRE_GO_SAMPLES();
  auto bytes = buildinfo_bytes(cut_elf64(kDebug));
  auto full = parse_go_buildinfo(bytes);
  auto end = bytes.find(kEndSentinel);
  ASSERT_NE(end, std::string::npos);
  end += kEndSentinel.size();
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    if (n < end) {
      EXPECT_THROW(parse_go_buildinfo(Exact(bytes, n)), InspectError) << n;
    } else {
      auto info = parse_go_buildinfo(Exact(bytes, n));
      EXPECT_EQ(info.go_version, full.go_version);
      EXPECT_EQ(info.settings, full.settings);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic and malformed input

TEST(ElfSections, ReadsElf32AndBigEndianLayouts) {
  for (int elf_class : {32, 64}) {
    for (bool big_endian : {false, true}) {
      SCOPED_TRACE(std::to_string(elf_class) + (big_endian ? " big" : " little"));
      auto s = make_elf(elf_class, big_endian, big_endian ? 21 : 40,
                        {{".text", 1, std::string(100, 'x')}, {".debug_info", 1, "dwarf"}, {".bss", 8, ""}});
      auto elf = parse_elf_sections(s.header, s.table, s.shstrtab, s.file.size());
      EXPECT_EQ(elf.elf_class, elf_class);
      EXPECT_EQ(elf.big_endian, big_endian);
      EXPECT_EQ(elf.machine, big_endian ? "ppc64" : "arm");
      ASSERT_EQ(elf.sections.size(), 5u);
      EXPECT_EQ(elf.sections[1].name, ".text");
      EXPECT_EQ(elf.sections[1].size, 100u);
      EXPECT_EQ(s.file.substr(elf.sections[1].offset, 100), std::string(100, 'x'));
      EXPECT_EQ(elf.sections[3].type, 8u);
      EXPECT_EQ(elf.sections[4].name, ".shstrtab");
      EXPECT_TRUE(elf.has_debug_info());
    }
  }
  auto z = make_elf(64, false, 62, {{".zdebug_info", 1, "z"}});
  EXPECT_TRUE(parse_elf_sections(z.header, z.table, z.shstrtab).has_debug_info());
  auto none = make_elf(64, false, 62, {{".debug_line", 1, "l"}});
  EXPECT_FALSE(parse_elf_sections(none.header, none.table, none.shstrtab).has_debug_info());
}

TEST(ElfSections, RejectsMalformedHeadersAndTables) {
  auto s = make_elf(64, false, 62, {{".text", 1, "code"}});
  ASSERT_NO_THROW(parse_elf_sections(s.header, s.table, s.shstrtab, s.file.size()));
  auto rejects = [&](std::string header, std::string table, std::string names, const std::string& why) {
    try {
      parse_elf_sections(header, table, names, s.file.size());
      ADD_FAILURE() << "accepted: " << why;
    } catch (const InspectError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  rejects("", s.table, s.shstrtab, "too short");
  rejects("#!/bin/sh\necho hello, world\n", s.table, s.shstrtab, "not an ELF file");
  auto h = s.header;
  h[4] = 3;
  rejects(h, s.table, s.shstrtab, "class");
  h = s.header;
  h[5] = 0;
  rejects(h, s.table, s.shstrtab, "byte order");
  rejects(s.header.substr(0, 40), s.table, s.shstrtab, "truncated");
  h = s.header;
  put(h, 58, 16, 2, false);
  rejects(h, s.table, s.shstrtab, "too small");
  h = s.header;
  put(h, 60, 200, 2, false);
  rejects(h, s.table, s.shstrtab, "truncated");
  h = s.header;
  put(h, 62, 7, 2, false);
  rejects(h, s.table, s.shstrtab, "out of range");
  h = s.header;
  put(h, 40, 0, 8, false);
  rejects(h, s.table, s.shstrtab, "no section header table");
  auto t = s.table;
  put(t, 64, 9999, 4, false);
  rejects(s.header, t, s.shstrtab, "name offset");
  rejects(s.header, s.table, s.shstrtab.substr(0, s.shstrtab.size() - 1), "unterminated");
  t = s.table;
  put(t, 64 + 32, s.file.size(), 8, false);
  rejects(s.header, t, s.shstrtab, "beyond the end");
}

TEST(ElfSections, FollowsExtendedSectionNumbering) {
  auto s = make_elf(64, false, 183, {{".text", 1, "code"}, {".debug_info", 1, "d"}});
  auto h = s.header;
  auto t = s.table;
  put(t, 32, 4, 8, false);       // section 0's sh_size: the real count
  put(t, 40, 3, 4, false);       // section 0's sh_link: the real name table index
  put(h, 60, 0, 2, false);       // e_shnum
  put(h, 62, 0xffff, 2, false);  // e_shstrndx = SHN_XINDEX
  auto elf = parse_elf_sections(h, t, s.shstrtab);
  EXPECT_EQ(elf.machine, "arm64");
  ASSERT_EQ(elf.sections.size(), 4u);
  EXPECT_TRUE(elf.has_debug_info());
}

TEST(GoBuildInfo, ParsesModuleLinesQuotingAndFlagScopes) {
  auto bytes = make_buildinfo("go1.25.3 X:boringcrypto",
                              "path\tk8s.io/kubernetes/cmd/kube-scheduler\n"
                              "mod\tk8s.io/kubernetes\tv1.34.0\th1:abc=\n"
                              "dep\tk8s.io/api\tv0.0.0\t\n"
                              "=>\t./staging/src/k8s.io/api\t(devel)\t\n"
                              "dep\tgithub.com/x/y\tv1.2.3\th1:xyz=\n"
                              "build\t-buildmode=exe\n"
                              "build\t-gcflags=\"-N -l\"\n"
                              "build\t-ldflags=\"-X 'k8s.io/component-base/version.gitVersion=v1.34.0' -w\"\n"
                              "build\t-trimpath=true\n"
                              "build\t\"weird=key\"=\"tab\\there \\u00e9\\x41\"\n"
                              "build\tvcs.revision=0123abcd\n"
                              "unknown\tline is ignored\n");
  auto info = parse_go_buildinfo(bytes);
  EXPECT_EQ(info.go_version, "go1.25.3 X:boringcrypto");
  EXPECT_EQ(info.main_package, "k8s.io/kubernetes/cmd/kube-scheduler");
  EXPECT_EQ(info.main_module.version, "v1.34.0");
  EXPECT_EQ(info.main_module.sum, "h1:abc=");
  ASSERT_EQ(info.dependencies.size(), 2u);
  EXPECT_EQ(info.dependencies[0].replace_path, "./staging/src/k8s.io/api");
  EXPECT_EQ(info.dependencies[1].replace_path, "");
  EXPECT_EQ(info.setting("-gcflags"), "-N -l");
  EXPECT_EQ(info.optimizations(), GoOptimizations::kOffInMainPackage);
  EXPECT_FALSE(info.optimizations_disabled());
  EXPECT_TRUE(info.stripped_by_ldflags());
  EXPECT_EQ(info.setting("-trimpath"), "true");
  EXPECT_EQ(info.setting("weird=key"),
            "tab\there \xc3\xa9"
            "A");
  EXPECT_EQ(info.setting("vcs.revision"), "0123abcd");
  EXPECT_EQ(info.setting("absent"), "");
  auto release = parse_go_release(info.go_version);
  ASSERT_TRUE(release);
  EXPECT_EQ(release->minor, 25);
  EXPECT_EQ(release->patch, 3);

  auto with = [](const std::string& gcflags, const std::string& ldflags) {
    std::string mod = "path\tp\n";
    if (!gcflags.empty()) mod += "build\t-gcflags=\"" + gcflags + "\"\n";
    if (!ldflags.empty()) mod += "build\t-ldflags=\"" + ldflags + "\"\n";
    return parse_go_buildinfo(make_buildinfo("go1.26.0", mod));
  };
  EXPECT_EQ(with("all=-l -N", "").optimizations(), GoOptimizations::kOffEverywhere);
  EXPECT_EQ(with("all=-N", "").optimizations(), GoOptimizations::kOn);
  EXPECT_EQ(with("all=-N -l=4", "").optimizations(), GoOptimizations::kOn);
  EXPECT_EQ(with("k8s.io/...=-N -l", "").optimizations(), GoOptimizations::kOffInSomePackages);
  EXPECT_EQ(with("k8s.io/...=-N -l", "").optimizations_off_pattern(), "k8s.io/...");
  EXPECT_FALSE(with("", "-X main.v=-s").stripped_by_ldflags());
  EXPECT_TRUE(with("", "-s").stripped_by_ldflags());
  EXPECT_TRUE(with("", "all=-w=true").stripped_by_ldflags());
  EXPECT_FALSE(with("", "-w=false").stripped_by_ldflags());
}

TEST(GoBuildInfo, RejectsGarbageAndReportsTheOldFormat) {
  auto rejects = [](const std::string& bytes, const std::string& why) {
    try {
      parse_go_buildinfo(bytes);
      ADD_FAILURE() << "accepted: " << why;
    } catch (const InspectError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  rejects("", "truncated");
  rejects(std::string(64, 'x'), "magic");
  auto good = make_buildinfo("go1.26.0", "path\tp\n");
  rejects(good.substr(0, 31), "truncated");
  auto header = good.substr(0, 32);
  rejects(header, "truncated");
  rejects(header + uvarint(1000) + "go1", "truncated");
  rejects(header + std::string(10, '\xff') + "\x01", "oversized");
  rejects(header + uvarint(8) + "go1.26.0" + uvarint(~std::uint64_t{0}) + "x", "truncated");
  rejects(header + uvarint(0) + uvarint(0), "empty Go version");

  auto no_modules = parse_go_buildinfo(header + uvarint(8) + "go1.26.0" + uvarint(0));
  EXPECT_EQ(no_modules.go_version, "go1.26.0");
  EXPECT_TRUE(no_modules.settings.empty());
  EXPECT_EQ(no_modules.optimizations(), GoOptimizations::kOn);

  auto legacy = good;
  legacy[15] = 0;
  auto old = parse_go_buildinfo(legacy);
  EXPECT_TRUE(old.legacy_format);
  EXPECT_EQ(old.go_version, "unknown (Go < 1.18 format)");
}

TEST(GoBuildInfo, ParsesReleaseNumbers) {
  auto r = parse_go_release("go1.26.8");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->major, 1);
  EXPECT_EQ(r->minor, 26);
  EXPECT_EQ(r->patch, 8);
  r = parse_go_release("go1.22rc1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->minor, 22);
  EXPECT_EQ(r->patch, 0);
  r = parse_go_release("devel go1.27-abcdef Tue Jan 1 2030");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->minor, 27);
  EXPECT_FALSE(parse_go_release("unknown (Go < 1.18 format)"));
  EXPECT_FALSE(parse_go_release("go"));
  EXPECT_FALSE(parse_go_release("go1"));
}

// ---------------------------------------------------------------------------------------------------------
// inspect_programs through a real /bin/sh

// Counts round trips: over SSH each one costs a network round trip and a channel.
class CountingNode final : public node::Node {
 public:
  explicit CountingNode(asio::any_io_executor ex) : inner_(std::move(ex)) {}
  asio::any_io_executor executor() const override { return inner_.executor(); }
  std::string describe() const override { return inner_.describe(); }
  asio::awaitable<node::CommandResult> run(std::string command, node::Duration timeout,
                                           std::string input) override {
    ++runs;
    co_return co_await inner_.run(std::move(command), timeout, std::move(input));
  }
  asio::awaitable<std::unique_ptr<node::RemoteProcess>> start(std::string command, bool keep_stdin) override {
    co_return co_await inner_.start(std::move(command), keep_stdin);
  }
  asio::awaitable<std::unique_ptr<dap::ByteStream>> open_tunnel(std::uint16_t port) override {
    co_return co_await inner_.open_tunnel(port);
  }
  void close() override {}
  int runs = 0;

 private:
  node::LocalNode inner_;
};

struct Probed {
  std::vector<ProgramReport> reports;
  int runs = 0;
};

Probed probe(std::vector<std::string> paths) {
  asio::io_context io;
  CountingNode node(io.get_executor());
  std::optional<std::vector<ProgramReport>> result;
  std::exception_ptr error;
  asio::co_spawn(io, inspect_programs(node, std::move(paths)),
                 [&](std::exception_ptr e, std::vector<ProgramReport> r) {
                   error = e;
                   if (!e) result = std::move(r);
                 });
  io.run_for(std::chrono::seconds(60));
  if (error) std::rethrow_exception(error);
  if (!result) throw std::runtime_error("inspect_programs did not finish within 60 s");
  return {std::move(*result), node.runs};
}

bool mentions(const std::vector<Problem>& problems, Problem::Severity severity, const std::string& text) {
  for (const auto& p : problems) {
    if (p.severity == severity && p.message.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string all_messages(const std::vector<Problem>& problems) {
  std::string s;
  for (const auto& p : problems) s += p.message + "\n";
  return s;
}

TEST(ProgramProbe, ProblemsTellTheBuildsApartAndNameTheFix) {
  auto go_binary = [](std::map<std::string, std::string> settings, bool dwarf) {
    ProgramReport r;
    r.path = "/usr/local/bin/kube-scheduler";
    r.exists = r.is_elf = true;
    r.elf = ElfSections{};
    r.has_debug_info = dwarf;
    r.go = GoBuildInfo{};
    r.go->go_version = "go1.24.4";
    r.go->settings = std::move(settings);
    return r;
  };
  using S = Problem::Severity;
  auto release = problems(go_binary({{"-trimpath", "true"}}, false));
  ASSERT_EQ(release.size(), 2u) << all_messages(release);
  EXPECT_TRUE(mentions(release, S::kError, "most likely built with -ldflags \"-s -w\""))
      << all_messages(release);
  EXPECT_TRUE(mentions(release, S::kWarning, "optimized away"));

  auto main_only = problems(go_binary({{"-gcflags", "-N -l"}}, true));
  ASSERT_EQ(main_only.size(), 1u) << all_messages(main_only);
  EXPECT_TRUE(mentions(main_only, S::kWarning, "in the main package only")) << all_messages(main_only);

  auto some = problems(go_binary({{"-gcflags", "k8s.io/kubernetes/pkg/...=-N -l"}}, true));
  EXPECT_TRUE(mentions(some, S::kWarning, "only in packages matching k8s.io/kubernetes/pkg/..."))
      << all_messages(some);

  EXPECT_TRUE(problems(go_binary({{"-gcflags", "all=-N -l"}}, true)).empty());
  auto stripped_later = problems(go_binary({{"-gcflags", "all=-N -l"}}, false));
  ASSERT_EQ(stripped_later.size(), 1u);
  EXPECT_TRUE(mentions(stripped_later, S::kError, "stripped after the build"))
      << all_messages(stripped_later);
  EXPECT_TRUE(mentions(problems(go_binary({{"-gcflags", "cmd/...=-dwarf=false"}}, false)), S::kError,
                       "-dwarf=false"));

  auto legacy = go_binary({}, true);
  legacy.go->legacy_format = true;
  EXPECT_TRUE(mentions(problems(legacy), S::kWarning, "older than 1.18"));

  ProgramReport unreadable;
  unreadable.path = "/root/secret";
  unreadable.exists = true;
  unreadable.error = "not readable by the node's user";
  EXPECT_TRUE(mentions(problems(unreadable), S::kError, "cannot be inspected: not readable"))
      << all_messages(problems(unreadable));
}

TEST(ProgramProbe, ReportsRealBinariesMissingFilesScriptsAndOddPathsInTwoRoundTrips) {
  REQUIRE_GO_SAMPLES();
  TempDir tmp("kdap-probe");
  auto odd_dir = tmp.path() / "dir with 'single' \"double\" $HOME `id` quotes";
  fs::create_directories(odd_dir);
  auto odd = odd_dir / "-inspect sample's copy";
  fs::copy_file(kDebug, odd);
  auto script = tmp.path() / "kube-scheduler";
  write_file(script, "#!/bin/sh\nexec /usr/local/bin/kube-scheduler \"$@\"\n");
  auto truncated = tmp.path() / "half-copied";
  auto debug_bytes = slurp(kDebug);
  write_file(truncated, debug_bytes.substr(0, debug_bytes.size() / 2));
  auto missing = tmp.path() / "no such program";

  auto probed = probe({odd.string(), kOptimized, kStripped, missing.string(), script.string(),
                       tmp.path().string(), truncated.string()});
  EXPECT_EQ(probed.runs, 2);
  const auto& r = probed.reports;
  ASSERT_EQ(r.size(), 7u);

  const auto& debug = r[0];
  EXPECT_EQ(debug.path, odd.string());
  EXPECT_TRUE(debug.exists);
  EXPECT_TRUE(debug.is_elf);
  EXPECT_EQ(debug.error, "");
  EXPECT_EQ(debug.size, debug_bytes.size());
  ASSERT_TRUE(debug.elf);
  EXPECT_EQ(debug.elf->sections.size(), parse(cut_elf64(kDebug)).sections.size());
  EXPECT_EQ(debug.elf->machine, host_goarch());
  EXPECT_TRUE(debug.has_debug_info);
  ASSERT_TRUE(debug.go);
  EXPECT_EQ(debug.go->go_version, built_go_version());
  EXPECT_TRUE(debug.go->optimizations_disabled());
  EXPECT_TRUE(problems(debug).empty()) << all_messages(problems(debug));

  const auto& optimized = r[1];
  EXPECT_TRUE(optimized.has_debug_info);
  ASSERT_TRUE(optimized.go);
  EXPECT_EQ(optimized.go->optimizations(), GoOptimizations::kOn);
  auto op = problems(optimized);
  ASSERT_EQ(op.size(), 1u) << all_messages(op);
  EXPECT_TRUE(mentions(op, Problem::Severity::kWarning, "built without -gcflags=all=-N -l"))
      << all_messages(op);
  EXPECT_TRUE(mentions(op, Problem::Severity::kWarning, "optimized away")) << all_messages(op);

  const auto& stripped = r[2];
  EXPECT_TRUE(stripped.is_elf);
  EXPECT_FALSE(stripped.has_debug_info);
  ASSERT_TRUE(stripped.go);
  EXPECT_TRUE(stripped.go->stripped_by_ldflags());
  auto sp = problems(stripped);
  EXPECT_TRUE(mentions(sp, Problem::Severity::kError, kStripped + " has no DWARF debug info"))
      << all_messages(sp);
  EXPECT_TRUE(mentions(sp, Problem::Severity::kError, "-ldflags \"-s -w\"")) << all_messages(sp);
  EXPECT_TRUE(mentions(sp, Problem::Severity::kError, "make all DBG=1")) << all_messages(sp);
  EXPECT_EQ(sp.front().severity, Problem::Severity::kError);

  EXPECT_FALSE(r[3].exists);
  EXPECT_FALSE(r[3].is_elf);
  EXPECT_TRUE(mentions(problems(r[3]), Problem::Severity::kError, "was not found"))
      << all_messages(problems(r[3]));

  EXPECT_TRUE(r[4].exists);
  EXPECT_FALSE(r[4].is_elf);
  EXPECT_EQ(r[4].first_bytes, "#!/bin/sh\nexec /usr/local/bin/kube-scheduler \"$@\"\n");
  EXPECT_TRUE(
      mentions(problems(r[4]), Problem::Severity::kError, "is a script (it starts with \"#!/bin/sh\")"))
      << all_messages(problems(r[4]));

  EXPECT_TRUE(r[5].exists);
  EXPECT_EQ(r[5].error, "not a regular file");
  EXPECT_FALSE(problems(r[5]).empty());

  EXPECT_TRUE(r[6].is_elf);
  EXPECT_FALSE(r[6].elf);
  EXPECT_NE(r[6].error.find("malformed ELF"), std::string::npos) << r[6].error;
  EXPECT_TRUE(mentions(problems(r[6]), Problem::Severity::kError, "cannot be read as an executable"));
}

TEST(ProgramProbe, ReadsElf32AndBigEndianFilesWhateverTheNodesByteOrder) {
  TempDir tmp("kdap-probe");
  auto buildinfo = make_buildinfo("go1.24.2", "path\tsample\nbuild\t-gcflags=\"all=-N -l\"\n");
  std::vector<std::string> paths;
  for (int elf_class : {32, 64}) {
    for (bool big_endian : {false, true}) {
      auto s = make_elf(elf_class, big_endian, big_endian ? 22 : 3,
                        {{".text", 1, std::string(5000, 't')},
                         {".go.buildinfo", 1, buildinfo},
                         {".debug_info", 1, "dwarf"}});
      paths.push_back(
          (tmp.path() / ("elf" + std::to_string(elf_class) + (big_endian ? "be" : "le"))).string());
      write_file(paths.back(), s.file);
    }
  }
  auto probed = probe(paths);
  EXPECT_EQ(probed.runs, 2);
  ASSERT_EQ(probed.reports.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& r = probed.reports[i];
    SCOPED_TRACE(r.path);
    EXPECT_EQ(r.error, "");
    ASSERT_TRUE(r.elf);
    EXPECT_EQ(r.elf->elf_class, i < 2 ? 32 : 64);
    EXPECT_EQ(r.elf->big_endian, i % 2 == 1);
    EXPECT_EQ(r.elf->machine, i % 2 == 1 ? "s390x" : "386");
    ASSERT_EQ(r.elf->sections.size(), 5u);
    EXPECT_EQ(r.elf->sections[2].name, ".go.buildinfo");
    EXPECT_TRUE(r.has_debug_info);
    ASSERT_TRUE(r.go);
    EXPECT_EQ(r.go->go_version, "go1.24.2");
    EXPECT_TRUE(r.go->optimizations_disabled());
  }
}

TEST(ProgramProbe, NeedsOneRoundTripWhenNoGoBinaryIsAmongThePaths) {
  TempDir tmp("kdap-probe");
  auto empty = tmp.path() / "empty";
  write_file(empty, "");
  auto shell = fs::canonical("/bin/sh").string();
  auto probed = probe({shell, empty.string(), (tmp.path() / "missing").string()});
  EXPECT_EQ(probed.runs, 1);
  ASSERT_EQ(probed.reports.size(), 3u);
  const auto& sh = probed.reports[0];
  EXPECT_TRUE(sh.is_elf);
  ASSERT_TRUE(sh.elf);
  EXPECT_FALSE(sh.go);
  EXPECT_TRUE(mentions(problems(sh), Problem::Severity::kError, "is not a Go program"))
      << all_messages(problems(sh));
  EXPECT_TRUE(probed.reports[1].exists);
  EXPECT_FALSE(probed.reports[1].is_elf);
  EXPECT_TRUE(mentions(problems(probed.reports[1]), Problem::Severity::kError, "not an ELF file"));
  EXPECT_FALSE(probed.reports[2].exists);

  EXPECT_EQ(probe({}).runs, 0);
}

}  // namespace
}  // namespace kdap::inspect

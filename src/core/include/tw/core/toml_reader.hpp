#pragma once
// Typed, validated reading of TOML tables. Every error names FILE:LINE: <key>: <what is wrong>;
// keys that no reader asked for are reported as unknown by finish().
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace tw {

class TomlReader {
 public:
  TomlReader(const toml::table& table, std::string file, std::string prefix, std::vector<std::string>* errors);

  void string(std::string_view key, std::string& out, bool required = false);
  void string_enum(std::string_view key, std::string& out, std::initializer_list<std::string_view> allowed);
  void number(std::string_view key, double& out, double lo, double hi, bool required = false);
  void integer(std::string_view key, std::int64_t& out, std::int64_t lo, std::int64_t hi, bool required = false);
  void integer(std::string_view key, int& out, int lo, int hi, bool required = false);
  void boolean(std::string_view key, bool& out);
  // A flat array of numbers (e.g. polygon or line coordinates); checks count and multiple.
  void numbers(std::string_view key, std::vector<double>& out, size_t min_count, size_t multiple_of);
  void strings(std::string_view key, std::vector<std::string>& out);
  // Sub-table; calls fn with a reader for it, then checks its unknown keys.
  void table(std::string_view key, const std::function<void(TomlReader&)>& fn);
  // Array of tables ([[key]]); fn gets a reader for each element and its index.
  void tables(std::string_view key, const std::function<void(TomlReader&, size_t)>& fn);

  // Custom check on an already-read value: records an error at the key's line.
  void fail(std::string_view key, const std::string& what);
  void finish();  // reports keys that were present but never read

  const std::string& file() const { return file_; }

 private:
  std::string path(std::string_view key) const;
  std::string where(const toml::node* n) const;
  const toml::node* node(std::string_view key);
  void error(const toml::node* n, std::string_view key, const std::string& what);

  const toml::table& table_;
  std::string file_;
  std::string prefix_;
  std::vector<std::string>* errors_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace tw

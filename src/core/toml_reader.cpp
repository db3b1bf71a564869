#include "tw/core/toml_reader.hpp"

#include <cmath>

#include <fmt/format.h>

namespace tw {

TomlReader::TomlReader(const toml::table& table, std::string file, std::string prefix,
                       std::vector<std::string>* errors)
    : table_(table), file_(std::move(file)), prefix_(std::move(prefix)), errors_(errors) {}

std::string TomlReader::path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

std::string TomlReader::where(const toml::node* n) const {
  const auto& src = n != nullptr ? n->source() : table_.source();
  return fmt::format("{}:{}", file_, src.begin.line);
}

const toml::node* TomlReader::node(std::string_view key) {
  seen_.emplace(key);
  return table_.get(key);
}

void TomlReader::error(const toml::node* n, std::string_view key, const std::string& what) {
  errors_->push_back(fmt::format("{}: {}: {}", where(n), path(key), what));
}

void TomlReader::fail(std::string_view key, const std::string& what) { error(table_.get(key), key, what); }

void TomlReader::string(std::string_view key, std::string& out, bool required) {
  const auto* n = node(key);
  if (n == nullptr) {
    if (required) error(nullptr, key, "required key is missing");
    return;
  }
  if (!n->is_string()) return error(n, key, "expected a string");
  out = n->as_string()->get();
  if (required && out.empty()) error(n, key, "must not be empty");
}

void TomlReader::string_enum(std::string_view key, std::string& out,
                             std::initializer_list<std::string_view> allowed) {
  const auto* n = node(key);
  if (n == nullptr) return;
  if (!n->is_string()) return error(n, key, "expected a string");
  const std::string& v = n->as_string()->get();
  std::string list;
  for (auto a : allowed) {
    if (a == v) {
      out = v;
      return;
    }
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  error(n, key, fmt::format("'{}' is not one of: {}", v, list));
}

void TomlReader::number(std::string_view key, double& out, double lo, double hi, bool required) {
  const auto* n = node(key);
  if (n == nullptr) {
    if (required) error(nullptr, key, "required key is missing");
    return;
  }
  double v = 0;
  if (n->is_floating_point()) {
    v = n->as_floating_point()->get();
  } else if (n->is_integer()) {
    v = static_cast<double>(n->as_integer()->get());
  } else {
    return error(n, key, "expected a number");
  }
  if (!std::isfinite(v) || v < lo || v > hi) return error(n, key, fmt::format("{} is out of range [{}, {}]", v, lo, hi));
  out = v;
}

void TomlReader::integer(std::string_view key, std::int64_t& out, std::int64_t lo, std::int64_t hi, bool required) {
  const auto* n = node(key);
  if (n == nullptr) {
    if (required) error(nullptr, key, "required key is missing");
    return;
  }
  if (!n->is_integer()) return error(n, key, "expected an integer");
  auto v = n->as_integer()->get();
  if (v < lo || v > hi) return error(n, key, fmt::format("{} is out of range [{}, {}]", v, lo, hi));
  out = v;
}

void TomlReader::integer(std::string_view key, int& out, int lo, int hi, bool required) {
  std::int64_t v = out;
  integer(key, v, lo, hi, required);
  out = static_cast<int>(v);
}

void TomlReader::boolean(std::string_view key, bool& out) {
  const auto* n = node(key);
  if (n == nullptr) return;
  if (!n->is_boolean()) return error(n, key, "expected true or false");
  out = n->as_boolean()->get();
}

void TomlReader::numbers(std::string_view key, std::vector<double>& out, size_t min_count, size_t multiple_of) {
  const auto* n = node(key);
  if (n == nullptr) return;
  const auto* arr = n->as_array();
  if (arr == nullptr) return error(n, key, "expected an array of numbers");
  std::vector<double> v;
  for (const auto& e : *arr) {
    if (e.is_floating_point()) {
      v.push_back(e.as_floating_point()->get());
    } else if (e.is_integer()) {
      v.push_back(static_cast<double>(e.as_integer()->get()));
    } else {
      return error(n, key, "expected an array of numbers");
    }
    if (!std::isfinite(v.back())) return error(n, key, "numbers must be finite");
  }
  if (v.size() < min_count) return error(n, key, fmt::format("needs at least {} numbers, got {}", min_count, v.size()));
  if (multiple_of > 1 && v.size() % multiple_of != 0)
    return error(n, key, fmt::format("needs a multiple of {} numbers, got {}", multiple_of, v.size()));
  out = std::move(v);
}

void TomlReader::strings(std::string_view key, std::vector<std::string>& out) {
  const auto* n = node(key);
  if (n == nullptr) return;
  const auto* arr = n->as_array();
  if (arr == nullptr) return error(n, key, "expected an array of strings");
  std::vector<std::string> v;
  for (const auto& e : *arr) {
    if (!e.is_string()) return error(n, key, "expected an array of strings");
    v.push_back(e.as_string()->get());
  }
  out = std::move(v);
}

void TomlReader::table(std::string_view key, const std::function<void(TomlReader&)>& fn) {
  const auto* n = node(key);
  if (n == nullptr) return;
  const auto* t = n->as_table();
  if (t == nullptr) return error(n, key, "expected a table");
  TomlReader sub(*t, file_, path(key), errors_);
  fn(sub);
  sub.finish();
}

void TomlReader::tables(std::string_view key, const std::function<void(TomlReader&, size_t)>& fn) {
  const auto* n = node(key);
  if (n == nullptr) return;
  const auto* arr = n->as_array();
  if (arr == nullptr) return error(n, key, "expected an array of tables");
  size_t i = 0;
  for (const auto& e : *arr) {
    const auto* t = e.as_table();
    if (t == nullptr) {
      error(&e, key, "expected a table");
    } else {
      TomlReader sub(*t, file_, fmt::format("{}[{}]", path(key), i), errors_);
      fn(sub, i);
      sub.finish();
    }
    ++i;
  }
}

void TomlReader::finish() {
  for (const auto& [k, v] : table_) {
    if (seen_.find(k.str()) == seen_.end()) {
      errors_->push_back(fmt::format("{}:{}: {}: unknown key", file_, k.source().begin.line, path(k.str())));
    }
  }
}

}  // namespace tw

// YAML to JSON with positions. yaml-cpp gives every node a mark (0-based line and column); we keep
// them by JSON pointer so that any problem found later (schema, cross-document) can say
// FILE:LINE:COL.
//
// Why not valijson's yaml-cpp adapter directly: that adapter reports every node as a string
// (isString() is always true and types are never strict), so a map or a list would pass
// `type: string` and `jobs: "4"` could not be told from `jobs: 4`. Converting with YAML 1.2 core
// schema rules and validating with strict types makes "wrong type" errors exact.
#include <algorithm>
#include <charconv>
#include <regex>

#include <yaml-cpp/yaml.h>

#include "config/detail.hpp"

namespace pgr::config::detail {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  // Close enough: at most a third of the word's letters (at least 1, at most 3) are off. Case
  // differences alone count as a near miss ("restore" for "Restore").
  const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    std::size_t dist = edit_distance(lower(word), lower(c));
    if (dist == 0 && word != c) dist = 1;  // only the case differs
    if (dist == 0) continue;               // the word itself is not a suggestion
    if (dist < best_distance) {
      best_distance = dist;
      best = c;
    }
  }
  return best;
}

std::string pointer_segment(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

Position YamlDocument::field_position(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = positions.find(p);
    if (it != positions.end()) return it->second.key;
    if (p.empty()) return start;
    p.erase(p.rfind('/'));
  }
}

Position YamlDocument::value_position(const std::string& pointer) const {
  auto it = positions.find(pointer);
  return it != positions.end() ? it->second.value : field_position(pointer);
}

namespace {

Position position_of(const YAML::Mark& mark, const std::string& file) {
  if (mark.line < 0) return Position{file, 0, 0};
  return Position{file, mark.line + 1, mark.column + 1};
}

// YAML 1.2 core schema resolution of a plain (unquoted, untagged) scalar.
nlohmann::json resolve_plain(const std::string& s) {
  static const std::regex int_re("[-+]?[0-9]+");
  static const std::regex float_re("[-+]?([.][0-9]+|[0-9]+([.][0-9]*)?)([eE][-+]?[0-9]+)?");
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, int_re)) {
    std::int64_t v = 0;
    const char* first = s.data() + (s[0] == '+' ? 1 : 0);
    auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) return v;
    return s;  // too big for an integer: keep the text, the schema will say what it wanted
  }
  if (std::regex_match(s, float_re)) {
    try {
      return std::stod(s);
    } catch (const std::exception&) {
      return s;
    }
  }
  return s;
}

class Converter {
 public:
  Converter(const std::string& file, std::vector<Problem>& problems, YamlDocument& doc)
      : file_(file), problems_(problems), doc_(doc) {}

  nlohmann::json convert(const YAML::Node& node, const std::string& pointer) {
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
      case YAML::NodeType::Scalar: {
        const std::string& tag = node.Tag();
        const std::string& text = node.Scalar();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;  // quoted, or !!str
        return resolve_plain(text);
      }
      case YAML::NodeType::Sequence: {
        nlohmann::json arr = nlohmann::json::array();
        std::size_t i = 0;
        for (const auto& item : node) {
          std::string p = pointer + "/" + std::to_string(i++);
          Position at = position_of(item.Mark(), file_);
          doc_.positions[p] = NodePosition{at, at};
          arr.push_back(convert(item, p));
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        nlohmann::json obj = nlohmann::json::object();
        for (auto it = node.begin(); it != node.end(); ++it) {
          Position key_at = position_of(it->first.Mark(), file_);
          if (!it->first.IsScalar()) {
            problems_.push_back({key_at, "a key must be a plain name, not a list or a map"});
            continue;
          }
          const std::string key = it->first.Scalar();
          std::string p = pointer + "/" + pointer_segment(key);
          if (obj.contains(key)) {
            Position first = doc_.positions[p].key;
            problems_.push_back({key_at, "duplicate field \"" + key + "\" (first given at line " +
                                             std::to_string(first.line) + ")"});
            continue;
          }
          Position value_at = position_of(it->second.Mark(), file_);
          if (value_at.line == 0) value_at = key_at;  // an empty value has no mark of its own
          doc_.positions[p] = NodePosition{key_at, value_at};
          obj[key] = convert(it->second, p);
        }
        return obj;
      }
    }
    return nullptr;
  }

 private:
  const std::string& file_;
  std::vector<Problem>& problems_;
  YamlDocument& doc_;
};

}  // namespace

std::vector<YamlDocument> parse_yaml(std::string_view text, const std::string& file,
                                     std::vector<Problem>& problems) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    Position at = position_of(e.mark, file);
    if (at.line == 0) at = Position{file, 1, 1};
    problems.push_back({at, "YAML syntax error: " + e.msg});
    return {};
  }
  std::vector<YamlDocument> docs;
  for (const auto& node : nodes) {
    if (node.IsNull() || !node.IsDefined()) continue;  // an empty document ("---" at the end)
    YamlDocument doc;
    doc.start = position_of(node.Mark(), file);
    if (doc.start.line == 0) doc.start = Position{file, 1, 1};
    doc.positions[""] = NodePosition{doc.start, doc.start};
    Converter conv(file, problems, doc);
    doc.value = conv.convert(node, "");
    docs.push_back(std::move(doc));
  }
  return docs;
}

}  // namespace pgr::config::detail

// Validation against the JSON Schemas (valijson, strict types, on the JSON converted from YAML)
// and the translation of valijson's findings into messages for people, each at the YAML line of
// the field it is about.
// GCC 12 reports a false -Wrestrict inside std::string as inlined into valijson's json_pointer
// helpers (GCC bug 105329); the location is libstdc++'s, so the pragma must come before every
// include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <fmt/format.h>

#include <memory>
#include <mutex>
#include <set>

#include "config/detail.hpp"
#include "config/schemas_embedded.hpp"

namespace pgr::config::detail {

const std::vector<std::string>& document_kinds() {
  static const std::vector<std::string> kinds = {"BackupPolicy", "Restore", "PointInTimeRecovery"};
  return kinds;
}

const nlohmann::json& schema_document(std::string_view file_name) {
  static const std::map<std::string, nlohmann::json, std::less<>> parsed = [] {
    std::map<std::string, nlohmann::json, std::less<>> m;
    for (const auto& [name, text] : embedded_schemas()) m[std::string(name)] = nlohmann::json::parse(text);
    return m;
  }();
  auto it = parsed.find(file_name);
  if (it == parsed.end()) fail(ErrorKind::internal, fmt::format("no embedded schema \"{}\"", file_name));
  return it->second;
}

const nlohmann::json& resolve_ref(const nlohmann::json& node, std::string& current_file) {
  const nlohmann::json* n = &node;
  for (int depth = 0; n->is_object() && n->contains("$ref"); ++depth) {
    if (depth > 16) fail(ErrorKind::internal, "schema $ref loop");
    const std::string ref = (*n)["$ref"].get<std::string>();
    const auto hash = ref.find('#');
    std::string file = ref.substr(0, hash);
    if (file.empty()) file = current_file;
    const auto& doc = schema_document(file);
    current_file = file;
    n = hash == std::string::npos ? &doc : &doc.at(nlohmann::json::json_pointer(ref.substr(hash + 1)));
  }
  return *n;
}

namespace {

std::vector<std::string> split_pointer(const std::string& pointer) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < pointer.size()) {  // pointer is "" or "/a/b"
    std::size_t j = pointer.find('/', i + 1);
    if (j == std::string::npos) j = pointer.size();
    std::string seg = pointer.substr(i + 1, j - i - 1);
    std::string unescaped;
    for (std::size_t k = 0; k < seg.size(); ++k) {
      if (seg[k] == '~' && k + 1 < seg.size()) {
        unescaped += seg[k + 1] == '1' ? '/' : '~';
        ++k;
      } else {
        unescaped += seg[k];
      }
    }
    out.push_back(unescaped);
    i = j;
  }
  return out;
}

const nlohmann::json* child_schema(const nlohmann::json& parent, const std::string& seg, std::string& file) {
  const nlohmann::json& node = resolve_ref(parent, file);
  if (node.contains("properties") && node["properties"].contains(seg)) return &node["properties"][seg];
  if (node.contains("items") && !seg.empty() && std::isdigit(static_cast<unsigned char>(seg[0]))) {
    return &node["items"];
  }
  if (node.contains("additionalProperties") && node["additionalProperties"].is_object()) {
    return &node["additionalProperties"];
  }
  for (const char* combinator : {"oneOf", "anyOf"}) {
    if (!node.contains(combinator)) continue;
    for (const auto& alt : node[combinator]) {
      std::string alt_file = file;
      if (const auto* found = child_schema(alt, seg, alt_file)) {
        file = alt_file;
        return found;
      }
    }
  }
  return nullptr;
}

}  // namespace

const nlohmann::json* schema_at(std::string_view kind, const std::string& pointer) {
  std::string file = std::string(kind) + ".schema.json";
  const nlohmann::json* node = &schema_document(file);
  for (const auto& seg : split_pointer(pointer)) {
    node = child_schema(*node, seg, file);
    if (node == nullptr) return nullptr;
  }
  return &resolve_ref(*node, file);
}

namespace {

class CompiledSchemas {
 public:
  CompiledSchemas() {
    auto fetch = [](const std::string& uri) -> const nlohmann::json* {
      // valijson asks for "common.schema.json" (relative to a schema without $id).
      std::string name = uri.substr(uri.rfind('/') == std::string::npos ? 0 : uri.rfind('/') + 1);
      return new nlohmann::json(schema_document(name));
    };
    auto release = [](const nlohmann::json* doc) { delete doc; };
    for (const auto& kind : document_kinds()) {
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      auto schema = std::make_unique<valijson::Schema>();
      valijson::adapters::NlohmannJsonAdapter adapter(schema_document(kind + ".schema.json"));
      parser.populateSchema(adapter, *schema, fetch, release);
      schemas_[kind] = std::move(schema);
    }
  }
  const valijson::Schema& get(std::string_view kind) const { return *schemas_.at(std::string(kind)); }

 private:
  std::map<std::string, std::unique_ptr<valijson::Schema>> schemas_;
};

const CompiledSchemas& compiled() {
  static const CompiledSchemas schemas;
  return schemas;
}

std::string display_path(const std::string& pointer) {
  if (pointer.empty()) return "the document";
  std::string out;
  for (const auto& seg : split_pointer(pointer)) {
    if (!seg.empty() && std::all_of(seg.begin(), seg.end(), [](unsigned char c) { return std::isdigit(c); })) {
      out += "[" + seg + "]";
    } else {
      out += (out.empty() ? "" : ".") + seg;
    }
  }
  return out;
}

std::string render(const nlohmann::json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string type_phrase(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "nothing";
    case nlohmann::json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "the integer " + v.dump();
    case nlohmann::json::value_t::number_float: return "the number " + v.dump();
    case nlohmann::json::value_t::string: return "the string " + render(v);
    case nlohmann::json::value_t::array: return "a list";
    case nlohmann::json::value_t::object: return "a map";
    default: return render(v);
  }
}

std::string wanted_phrase(const nlohmann::json& type) {
  auto one = [](const std::string& t) -> std::string {
    if (t == "integer") return "an integer";
    if (t == "number") return "a number";
    if (t == "boolean") return "true or false";
    if (t == "string") return "a string";
    if (t == "array") return "a list";
    if (t == "object") return "a map of fields";
    return t;
  };
  if (type.is_string()) return one(type.get<std::string>());
  std::string out;
  for (std::size_t i = 0; i < type.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == type.size() ? " or " : ", ") + one(type[i].get<std::string>());
  }
  return out;
}

std::string join_quoted(const std::vector<std::string>& names, const char* last_sep) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? last_sep : ", ") + ("\"" + names[i] + "\"");
  }
  return out;
}

struct RawError {
  std::string pointer;
  std::string description;
  bool dropped = false;
};

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// A oneOf whose alternatives only say which field is required ("exactly one of a, b").
std::vector<std::string> required_choice(const nlohmann::json& schema) {
  std::vector<std::string> names;
  if (!schema.contains("oneOf")) return names;
  for (const auto& alt : schema["oneOf"]) {
    if (alt.size() != 1 || !alt.contains("required")) return {};
    for (const auto& r : alt["required"]) names.push_back(r.get<std::string>());
  }
  return names;
}

class Translator {
 public:
  Translator(const YamlDocument& doc, std::string_view kind, std::vector<Problem>& problems)
      : doc_(doc), kind_(kind), problems_(problems) {}

  void run(std::vector<RawError> errors) {
    for (auto& e : errors) {
      if (is_wrapper(e.description)) e.dropped = true;
    }
    // oneOf first: it decides which of its alternatives' findings are worth showing.
    for (auto& e : errors) {
      if (e.dropped) continue;
      const bool none = starts_with(e.description, "Failed to validate against any child schemas allowed by oneOf");
      const bool several = starts_with(e.description, "Failed to validate against exactly one child schema");
      if (!none && !several) continue;
      e.dropped = true;
      const nlohmann::json* schema = schema_at(kind_, e.pointer);
      const std::vector<std::string> names = schema ? required_choice(*schema) : std::vector<std::string>{};
      if (!names.empty()) {
        for (auto& other : errors) {
          if (other.pointer != e.pointer) continue;
          for (const auto& n : names) {
            if (other.description == "Missing required property '" + n + "'.") other.dropped = true;
          }
        }
        add(doc_.field_position(e.pointer),
            none ? fmt::format("{} needs one of {}", display_path(e.pointer), join_quoted(names, " or "))
                 : fmt::format("{} takes only one of {}, not several", display_path(e.pointer),
                               join_quoted(names, " or ")));
        continue;
      }
      // A union of types: the alternatives of another type say nothing useful.
      bool kept = false;
      for (auto& other : errors) {
        if (&other == &e || other.dropped) continue;
        const bool inside = other.pointer == e.pointer || starts_with(other.pointer, e.pointer + "/");
        if (!inside) continue;
        if (other.pointer == e.pointer && starts_with(other.description, "Value type not permitted")) {
          other.dropped = true;
        } else {
          kept = true;
        }
      }
      if (!kept) {
        const std::string title = schema && schema->contains("title") ? (*schema)["title"].get<std::string>()
                                                                       : "one of the allowed forms";
        add(doc_.field_position(e.pointer),
            fmt::format("{}: expected {}, got {}", display_path(e.pointer), title, type_phrase(value(e.pointer))));
      }
    }
    // "form" for "from": the unknown field already says it, "missing from" would repeat it.
    for (auto& e : errors) {
      if (!starts_with(e.description, "Object contains a property")) continue;
      for (const auto& suggested : suggestions(e.pointer)) {
        for (auto& other : errors) {
          if (other.pointer == e.pointer && other.description == "Missing required property '" + suggested + "'.") {
            other.dropped = true;
          }
        }
      }
    }
    for (const auto& e : errors) {
      if (!e.dropped) translate(e);
    }
  }

 private:
  const nlohmann::json& value(const std::string& pointer) const {
    static const nlohmann::json null;
    const nlohmann::json::json_pointer p(pointer);
    return doc_.value.contains(p) ? doc_.value.at(p) : null;
  }

  void add(Position where, std::string message) {
    if (seen_.insert({where.line, where.column, message}).second) {
      problems_.push_back(Problem{std::move(where), std::move(message)});
    }
  }

  // In a union of types ("latest" or 3), the alternative of the value's own type.
  static const nlohmann::json* alternative_for(const nlohmann::json* schema, const nlohmann::json& v) {
    if (schema == nullptr || schema->contains("type") || !schema->contains("oneOf")) return schema;
    const std::string type = v.is_string() ? "string" : v.is_number_integer() ? "integer" : v.is_number() ? "number"
                             : v.is_boolean() ? "boolean" : v.is_array() ? "array" : v.is_object() ? "object" : "null";
    for (const auto& alt : (*schema)["oneOf"]) {
      if (alt.contains("type") && alt["type"] == type) return &alt;
    }
    return schema;
  }

  // valijson's summaries of its children's findings ("Failed to validate item #2") add nothing.
  static bool is_wrapper(const std::string& description) {
    static const std::vector<std::string> wrappers = {
        "Failed to validate against schema associated with property name",
        "Failed to validate item #",
        "Failed to validate against additional properties schema",
        "Failed to validate against any schemas allowed by anyOf",
        "Failed to validate against schema associated with pattern",
        "Failed to validate against a conditional schema",
        "Failed to validate against dependent schema",
        "Cannot validate item #",
        "Failed to validate against child schema #",
    };
    for (const auto& w : wrappers) {
      if (starts_with(description, w)) return true;
    }
    return false;
  }

  void translate(const RawError& e) {
    const std::string path = display_path(e.pointer);
    const Position at = doc_.field_position(e.pointer);
    const nlohmann::json& v = value(e.pointer);
    const nlohmann::json* schema = alternative_for(schema_at(kind_, e.pointer), v);
    const std::string& d = e.description;

    if (starts_with(d, "Object contains a property that could not be validated")) {
      unknown_fields(e.pointer);
    } else if (starts_with(d, "Missing required property '")) {
      const std::string name = d.substr(27, d.size() - 27 - 2);
      add(at, e.pointer.empty() ? fmt::format("missing required field \"{}\"", name)
                                : fmt::format("{}: missing required field \"{}\"", path, name));
    } else if (starts_with(d, "Value type not permitted") && schema && schema->contains("type")) {
      std::string msg = fmt::format("{}: expected {}, got {}", path, wanted_phrase((*schema)["type"]), type_phrase(v));
      const std::string wanted = (*schema)["type"].is_string() ? (*schema)["type"].get<std::string>() : "";
      if (v.is_string() && (wanted == "integer" || wanted == "boolean" || wanted == "number")) {
        const std::string s = v.get<std::string>();
        const bool looks = wanted == "boolean" ? (s == "true" || s == "false")
                                               : !s.empty() && s.find_first_not_of("+-0123456789.") == std::string::npos;
        if (looks) msg += " (remove the quotes)";
        if (wanted == "boolean" && (s == "yes" || s == "no" || s == "on" || s == "off" || s == "y" || s == "n")) {
          msg += " (YAML 1.2: write true or false)";
        }
      } else if (wanted == "string" && (v.is_number() || v.is_boolean())) {
        msg += fmt::format(" (quote it: \"{}\")", v.dump());
      }
      add(at, msg);
    } else if (starts_with(d, "Failed to match against any enum values") && schema && schema->contains("enum")) {
      std::vector<std::string> allowed;
      for (const auto& a : (*schema)["enum"]) allowed.push_back(a.is_string() ? a.get<std::string>() : a.dump());
      std::string msg = fmt::format("{}: {} is not one of {}", path, render(v), join_quoted(allowed, " or "));
      if (v.is_string()) {
        if (auto hint = did_you_mean(v.get<std::string>(), allowed)) msg += fmt::format(" (did you mean \"{}\"?)", *hint);
      }
      add(at, msg);
    } else if (starts_with(d, "Failed to match expected value set by 'const'") && schema && schema->contains("const")) {
      add(at, fmt::format("{}: must be {}, got {}", path, (*schema)["const"].dump(), render(v)));
    } else if ((starts_with(d, "Expected number greater") || starts_with(d, "Expected number less")) && schema) {
      std::string range;
      if (schema->contains("minimum") && schema->contains("maximum")) {
        range = fmt::format("{} to {}", (*schema)["minimum"].dump(), (*schema)["maximum"].dump());
      } else if (schema->contains("minimum")) {
        range = fmt::format("at least {}", (*schema)["minimum"].dump());
      } else if (schema->contains("maximum")) {
        range = fmt::format("at most {}", (*schema)["maximum"].dump());
      }
      add(at, fmt::format("{}: {} is out of range ({})", path, render(v), range));
    } else if (starts_with(d, "String should be no fewer than")) {
      add(at, fmt::format("{}: must not be empty", path));
    } else if (starts_with(d, "String should be no more than") && schema && schema->contains("maxLength")) {
      add(at, fmt::format("{}: longer than {} characters", path, (*schema)["maxLength"].dump()));
    } else if (starts_with(d, "Failed to match regex") && schema) {
      const std::string title = schema->contains("title") ? (*schema)["title"].get<std::string>() : "value";
      std::string msg = fmt::format("{}: {} is not a valid {}", path, render(v), title);
      if (schema->contains("examples")) {
        std::vector<std::string> ex;
        for (const auto& x : (*schema)["examples"]) ex.push_back(x.get<std::string>());
        msg += " (examples: " + join_quoted(ex, ", ") + ")";
      }
      add(at, msg);
    } else {
      add(at, fmt::format("{}: {}", path, d));
    }
  }

  std::vector<std::string> known_fields(const std::string& pointer) const {
    std::vector<std::string> known;
    const nlohmann::json* schema = schema_at(kind_, pointer);
    if (schema != nullptr && schema->contains("properties")) {
      for (const auto& [k, unused] : (*schema)["properties"].items()) known.push_back(k);
    }
    return known;
  }

  std::vector<std::string> suggestions(const std::string& pointer) const {
    std::vector<std::string> out;
    const nlohmann::json& obj = value(pointer);
    if (!obj.is_object()) return out;
    const auto known = known_fields(pointer);
    for (const auto& [key, unused] : obj.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      if (auto hint = did_you_mean(key, known)) out.push_back(*hint);
    }
    return out;
  }

  void unknown_fields(const std::string& pointer) {
    const nlohmann::json& obj = value(pointer);
    if (!obj.is_object()) return;
    const std::vector<std::string> known = known_fields(pointer);
    const std::string where = pointer.empty() ? std::string("the document") : display_path(pointer);
    for (const auto& [key, unused] : obj.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string msg = fmt::format("unknown field \"{}\" in {}", key, where);
      if (auto hint = did_you_mean(key, known)) {
        msg += fmt::format(" (did you mean \"{}\"?)", *hint);
      } else if (!known.empty()) {
        std::vector<std::string> sorted = known;
        std::sort(sorted.begin(), sorted.end());
        msg += "; known fields: " + join_quoted(sorted, ", ");
      }
      add(doc_.field_position(pointer + "/" + pointer_segment(key)), msg);
    }
  }

  const YamlDocument& doc_;
  std::string_view kind_;
  std::vector<Problem>& problems_;
  std::set<std::tuple<int, int, std::string>> seen_;
};

std::string context_to_pointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const auto& c : context) {
    if (c.size() >= 2 && c.front() == '[' && c.back() == ']') {
      pointer += "/" + pointer_segment(c.substr(1, c.size() - 2));
    }
  }
  return pointer;
}

}  // namespace

void check_against_schema(const YamlDocument& doc, std::string_view kind, std::vector<Problem>& problems) {
  const auto& schema = compiled().get(kind);
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc.value);
  if (validator.validate(schema, target, &results)) return;
  std::vector<RawError> errors;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) errors.push_back({context_to_pointer(error.context), error.description});
  Translator(doc, kind, problems).run(std::move(errors));
}

}  // namespace pgr::config::detail

#include "util/redact.hpp"

#include <cctype>

namespace pgr {
namespace {

bool ieq_prefix(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) != word[i]) return false;
  }
  return true;
}

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Skip a libpq key/value value starting at pos: either 'quoted with \' escapes' or a run of
// non-space characters. Returns the position after the value.
size_t skip_kv_value(std::string_view text, size_t pos) {
  if (pos < text.size() && text[pos] == '\'') {
    ++pos;
    while (pos < text.size()) {
      if (text[pos] == '\\' && pos + 1 < text.size()) {
        pos += 2;
        continue;
      }
      if (text[pos] == '\'') return pos + 1;
      ++pos;
    }
    return pos;
  }
  while (pos < text.size() && !std::isspace(static_cast<unsigned char>(text[pos])) &&
         text[pos] != '&' && text[pos] != '"') {
    ++pos;
  }
  return pos;
}

}  // namespace

std::string redact_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    // key/value and URI-query form: password = value   /   ?password=value / &password=value
    if (ieq_prefix(text, i, "password") && (i == 0 || !is_word_char(text[i - 1]))) {
      size_t j = i + 8;
      size_t k = j;
      while (k < text.size() && text[k] == ' ') ++k;
      if (k < text.size() && text[k] == '=') {
        ++k;
        while (k < text.size() && text[k] == ' ') ++k;
        out.append(text.substr(i, j - i));
        out.append("=");
        out.append(kRedacted);
        i = skip_kv_value(text, k);
        continue;
      }
    }
    // URI userinfo: scheme://user:secret@host
    if (ieq_prefix(text, i, "postgresql://") || ieq_prefix(text, i, "postgres://")) {
      size_t start = text.find("://", i) + 3;
      size_t end = start;
      while (end < text.size() && text[end] != '/' && text[end] != '?' &&
             !std::isspace(static_cast<unsigned char>(text[end])) && text[end] != '"' &&
             text[end] != '\'') {
        ++end;
      }
      std::string_view authority = text.substr(start, end - start);
      size_t at = authority.rfind('@');
      out.append(text.substr(i, start - i));
      if (at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        size_t colon = userinfo.find(':');
        if (colon != std::string_view::npos) {
          out.append(userinfo.substr(0, colon + 1));
          out.append(kRedacted);
          out.append(authority.substr(at));
        } else {
          out.append(authority);
        }
      } else {
        out.append(authority);
      }
      i = end;
      continue;
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

}  // namespace pgr

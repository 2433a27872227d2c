#include "src/config/call_template.h"

#include <cctype>

namespace atrium::config {

namespace {

bool isUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool isTokenChar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                std::string_view::npos;
}

}  // namespace

std::optional<std::string> parseCallTemplate(std::string_view tmpl, std::vector<TemplatePart>& out) {
  out.clear();
  if (tmpl.empty() || tmpl.front() != '/') return "must start with '/'";
  if (tmpl.size() > 2048) return "is longer than 2048 characters";
  // "//host/..." would read as an authority to some servers: the host is the call's only.
  if (tmpl.size() > 1 && tmpl[1] == '/') return "must not start with '//'";
  bool in_query = false;
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    out.push_back({TemplatePart::Kind::Literal, std::move(literal), in_query});
    literal.clear();
  };
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const auto c = static_cast<unsigned char>(tmpl[i]);
    if (c == '}') return "has a '}' outside a placeholder";
    if (c != '{') {
      if (c <= 0x20 || c >= 0x7f || c == '#') {
        return "may hold only visible ASCII characters other than '#'";
      }
      literal.push_back(static_cast<char>(c));
      continue;
    }
    const size_t close = tmpl.find('}', i);
    if (close == std::string_view::npos) return "has a '{' without its '}'";
    const std::string_view name = tmpl.substr(i + 1, close - i - 1);
    TemplatePart part;
    part.in_query = in_query || literal.find('?') != std::string::npos;
    if (name == "path") {
      part.kind = TemplatePart::Kind::Path;
    } else if (name.rfind("query.", 0) == 0 && name.size() > 6) {
      part.kind = TemplatePart::Kind::Query;
      part.text = std::string(name.substr(6));
      for (unsigned char q : part.text) {
        if (!isUnreserved(q)) return "placeholder {" + std::string(name) + "}: bad parameter name";
      }
    } else if (name.rfind("header.", 0) == 0 && name.size() > 7) {
      part.kind = TemplatePart::Kind::Header;
      for (unsigned char h : name.substr(7)) {
        if (!isTokenChar(h)) return "placeholder {" + std::string(name) + "}: bad header name";
        part.text.push_back(static_cast<char>(std::tolower(h)));
      }
    } else {
      return "unknown placeholder {" + std::string(name) +
             "} (use {query.NAME}, {header.NAME} or {path})";
    }
    if (literal.find('?') != std::string::npos) in_query = true;
    flush();
    out.push_back(std::move(part));
    i = close;
  }
  if (literal.find('?') != std::string::npos) in_query = true;
  flush();
  return std::nullopt;
}

}  // namespace atrium::config

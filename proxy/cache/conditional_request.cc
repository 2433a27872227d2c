#include "proxy/cache/conditional_request.h"

#include "proxy/cache/field_text.h"
#include "proxy/cache/http_date.h"

namespace atrium::proxy::cache {
namespace {

// Calls `on(tag)` for each element of an If-None-Match list. Entity-tags may contain commas
// inside their quotes, so the list is split only outside quotes.
template <class On>
bool anyTag(std::string_view list, On&& on) {
  size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ',' || isOws(list[i]))) ++i;
    const size_t start = i;
    bool quoted = false;
    while (i < list.size() && (quoted || list[i] != ',')) {
      if (list[i] == '"') quoted = !quoted;
      ++i;
    }
    const std::string_view tag = trimOws(list.substr(start, i - start));
    if (!tag.empty() && on(tag)) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string_view> opaqueTag(std::string_view tag) {
  tag = trimOws(tag);
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return std::nullopt;
  if (tag.substr(1, tag.size() - 2).find('"') != std::string_view::npos) return std::nullopt;
  return tag;
}

bool notModified(std::optional<std::string_view> if_none_match,
                 std::optional<std::string_view> if_modified_since, std::string_view etag,
                 std::string_view last_modified) {
  if (if_none_match) {
    const auto ours = opaqueTag(etag);
    return anyTag(*if_none_match, [&](std::string_view tag) {
      if (tag == "*") return true;
      const auto theirs = opaqueTag(tag);
      return ours && theirs && *ours == *theirs;
    });
  }
  if (!if_modified_since || last_modified.empty()) return false;
  const auto since = parseHttpDate(*if_modified_since);
  const auto modified = parseHttpDate(last_modified);
  return since && modified && *modified <= *since;
}

}  // namespace atrium::proxy::cache

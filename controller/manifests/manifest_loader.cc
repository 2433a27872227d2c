#include "controller/manifests/manifest_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <set>
#include <string_view>
#include <system_error>

#include "controller/manifests/yaml_to_json.h"

namespace atrium::controller::manifests {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kDefaultNamespace = "default";

std::string lowercaseExtension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

bool isManifestFile(const fs::path& path) {
  auto ext = lowercaseExtension(path);
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// Dot-names are editor swap files, VCS metadata, and the `..data` / `..2024_...` trees a
// Kubernetes ConfigMap mount keeps beside the visible symlinks; reading those too would load
// every object twice.
bool isHidden(const fs::path& path) {
  auto name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 label as Kubernetes checks it: [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool isDns1123Label(std::string_view s, size_t max_length) {
  if (s.empty() || s.size() > max_length) return false;
  if (!isLowerAlnum(s.front()) || !isLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isLowerAlnum(c) || c == '-'; });
}

// RFC 1123 subdomain: dot-separated labels, at most 253 characters in all.
bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    auto label = s.substr(start, dot == std::string_view::npos ? s.size() - start : dot - start);
    if (!isDns1123Label(label, 253)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string describe(const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      return "a mapping";
    case json::value_t::array:
      return "a sequence";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::null:
      return "null";
    default:
      return "a number";
  }
}

std::string base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) n |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// ---- Splitting a YAML stream into documents ----
// Each document is parsed on its own so that a syntax error keeps the documents before it and
// the reported line is exact. A `---` at column 0 always starts a document (YAML forbids it
// inside content), so splitting there never cuts a valid document; if a chunk still holds
// several documents, LoadAll handles them.

struct YamlChunk {
  std::string_view text;
  int first_line;  // 0-based line of the chunk's first character in the whole file
};

bool startsWithMarker(std::string_view line, std::string_view marker) {
  if (line.substr(0, 3) != marker) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

bool isBlankOrComment(std::string_view line) {
  auto pos = line.find_first_not_of(" \t\r");
  return pos == std::string_view::npos || line[pos] == '#';
}

std::vector<YamlChunk> splitYamlDocuments(std::string_view text) {
  std::vector<YamlChunk> chunks;
  size_t chunk_start = 0;
  int chunk_line = 0;
  bool chunk_has_content = false;  // comments and directives alone do not make a document
  bool after_document_end = false;
  int line_number = 0;
  for (size_t pos = 0; pos < text.size(); ++line_number) {
    size_t eol = text.find('\n', pos);
    size_t line_end = eol == std::string_view::npos ? text.size() : eol;
    auto line = text.substr(pos, line_end - pos);
    bool directive = after_document_end && !line.empty() && line[0] == '%';
    if ((startsWithMarker(line, "---") || directive) && chunk_has_content) {
      chunks.push_back({text.substr(chunk_start, pos - chunk_start), chunk_line});
      chunk_start = pos;
      chunk_line = line_number;
      chunk_has_content = false;
    }
    if (startsWithMarker(line, "...")) {
      after_document_end = true;
    } else if (!directive && !isBlankOrComment(line)) {
      chunk_has_content = true;
      after_document_end = false;
    }
    pos = line_end == text.size() ? text.size() : line_end + 1;
  }
  if (chunk_start < text.size()) {
    chunks.push_back({text.substr(chunk_start), chunk_line});
  }
  return chunks;
}

// ---- Checking the object envelope ----

class DocumentParser {
 public:
  DocumentParser(const std::string& source, LoadResult& into) : source_(source), into_(into) {}

  void parseYaml(std::string_view text);
  void parseJson(const std::string& text);

 private:
  void addDocument(json doc, int index, int line);
  void addObject(json object, const std::string& location, int line);
  bool applyStringData(json& secret, const std::string& display);

  void report(const std::string& object, const std::string& field, const std::string& message,
              bool warning = false) {
    into_.diagnostics.push_back({source_, object, field, message, warning});
  }

  const std::string& source_;
  LoadResult& into_;
};

void DocumentParser::parseYaml(std::string_view text) {
  // A UTF-8 byte order mark would count as content and shift document numbering.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int index = 0;
  for (const auto& chunk : splitYamlDocuments(text)) {
    // yaml-cpp accepts a quoted scalar left open at the end of its input; an explicit document
    // end turns that back into the error it is in the whole file, where the next `---` would
    // land inside the scalar.
    std::string input(chunk.text);
    if (!input.empty() && input.back() != '\n') input += '\n';
    input += "...\n";
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(input);
    } catch (const YAML::Exception& e) {
      // How later documents read depends on how this one was meant to end (an open quote or
      // bracket swallows the next `---`), so the rest of the file is dropped, not guessed at.
      std::string where;
      if (!e.mark.is_null()) {
        where = " at line " + std::to_string(chunk.first_line + e.mark.line + 1) + ", column " +
                std::to_string(e.mark.column + 1);
      }
      report("", "", "invalid YAML" + where + ": " + e.msg);
      return;
    }
    for (const auto& document : documents) {
      int line = chunk.first_line + 1;
      if (!document.Mark().is_null()) line = chunk.first_line + document.Mark().line + 1;
      json body;
      try {
        body = yamlToJson(document);
      } catch (const YamlConversionError& e) {
        std::string where;
        if (e.line() > 0) {
          where = " at line " + std::to_string(chunk.first_line + e.line()) + ", column " +
                  std::to_string(e.column());
        }
        report("", "document[" + std::to_string(index++) + "]",
               "invalid YAML" + where + ": " + e.what());
        continue;
      }
      addDocument(std::move(body), index++, line);
    }
  }
}

void DocumentParser::parseJson(const std::string& text) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return;  // empty, like YAML
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    // what() reads "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string what = e.what();
    auto at = what.find("parse error");
    report("", "", "invalid JSON" + (at == std::string::npos ? ": " + what : what.substr(at + 11)));
    return;
  }
  addDocument(std::move(document), 0, 0);
}

void DocumentParser::addDocument(json doc, int index, int line) {
  if (doc.is_null()) return;  // empty documents (a trailing `---`, comments only) are fine
  addObject(std::move(doc), "document[" + std::to_string(index) + "]", line);
}

void DocumentParser::addObject(json object, const std::string& location, int line) {
  if (!object.is_object()) {
    std::string where = line > 0 ? " (document at line " + std::to_string(line) + ")" : "";
    report("", location,
           "expected a Kubernetes object (a mapping), found " + describe(object) + where);
    return;
  }

  // Name the object as well as we can before checking it, so every message says which one.
  const json* api_version = nullptr;
  const json* kind = nullptr;
  const json* metadata = nullptr;
  if (auto it = object.find("apiVersion"); it != object.end()) api_version = &*it;
  if (auto it = object.find("kind"); it != object.end()) kind = &*it;
  if (auto it = object.find("metadata"); it != object.end()) metadata = &*it;
  const json* name = nullptr;
  const json* ns = nullptr;
  if (metadata && metadata->is_object()) {
    if (auto it = metadata->find("name"); it != metadata->end()) name = &*it;
    if (auto it = metadata->find("namespace"); it != metadata->end()) ns = &*it;
  }
  std::string kind_name = kind && kind->is_string() ? kind->get<std::string>() : "";
  std::string object_name = name && name->is_string() ? name->get<std::string>() : "";
  std::string namespace_name = ns && ns->is_string() ? ns->get<std::string>() : "";
  if (namespace_name.empty()) namespace_name = kDefaultNamespace;
  bool namespaced = isNamespacedKind(kind_name);

  std::string display = kind_name;
  if (!object_name.empty()) {
    if (!display.empty()) display += " ";
    display += namespaced ? namespace_name + "/" + object_name : object_name;
  }
  // An object nobody can name is located by its place in the file instead.
  auto field = [&](const std::string& path) {
    return kind_name.empty() || object_name.empty() ? location + "." + path : path;
  };

  if (!api_version) return report(display, field("apiVersion"), "missing apiVersion");
  if (!api_version->is_string()) {
    return report(display, field("apiVersion"),
                  "apiVersion must be a string, found " + describe(*api_version));
  }
  if (!kind) return report(display, field("kind"), "missing kind");
  if (!kind->is_string()) {
    return report(display, field("kind"), "kind must be a string, found " + describe(*kind));
  }

  // `kind: List` (kubectl get -o yaml) and typed lists (IngressList): each item stands alone.
  if (kind_name == "List" ||
      (kind_name.size() > 4 && kind_name.compare(kind_name.size() - 4, 4, "List") == 0)) {
    auto items = object.find("items");
    if (items == object.end() || items->is_null()) return;  // an empty list
    if (!items->is_array()) {
      return report(display, field("items"), "items must be a sequence, found " + describe(*items));
    }
    for (size_t i = 0; i < items->size(); ++i) {
      addObject(std::move((*items)[i]), location + ".items[" + std::to_string(i) + "]", line);
    }
    return;
  }

  const auto& kinds = supportedKinds();
  auto info = std::find_if(kinds.begin(), kinds.end(),
                           [&](const KindInfo& k) { return kind_name == k.kind; });
  if (info == kinds.end()) {
    std::string expected;
    for (const auto& k : kinds) expected += (expected.empty() ? "" : ", ") + std::string(k.kind);
    // Other kinds (a Deployment in the same folder) are not Atrium's: noted, not an error, so
    // a directory of a whole application's manifests can be served and checked as is.
    return report(display, field("kind"),
                  "kind \"" + kind_name + "\" is not read by Atrium (it reads " + expected + "); ignored",
                  true);
  }
  if (api_version->get<std::string>() != info->api_version) {
    return report(display, field("apiVersion"),
                  "unsupported apiVersion \"" + api_version->get<std::string>() + "\" for kind " +
                      kind_name + " (expected " + info->api_version + ")");
  }

  if (!metadata) return report(display, field("metadata.name"), "missing metadata.name");
  if (!metadata->is_object()) {
    return report(display, field("metadata"),
                  "metadata must be a mapping, found " + describe(*metadata));
  }
  if (!name) return report(display, field("metadata.name"), "missing metadata.name");
  if (!name->is_string()) {
    return report(display, field("metadata.name"),
                  "metadata.name must be a string, found " + describe(*name));
  }
  if (!isDns1123Subdomain(object_name)) {
    return report(display, field("metadata.name"),
                  "invalid name \"" + object_name +
                      "\": must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', "
                      "starting and ending with a letter or digit, at most 253 characters)");
  }

  if (namespaced) {
    if (ns && !ns->is_null() && !ns->is_string()) {
      return report(display, "metadata.namespace",
                    "metadata.namespace must be a string, found " + describe(*ns));
    }
    if (!isDns1123Label(namespace_name, 63)) {
      return report(display, "metadata.namespace",
                    "invalid namespace \"" + namespace_name +
                        "\": must be a lowercase RFC 1123 label (a-z, 0-9 and '-', starting and "
                        "ending with a letter or digit, at most 63 characters)");
    }
    // Written back so the body matches what the API server would return for this object.
    object["metadata"]["namespace"] = namespace_name;
  } else {
    // The API server drops a namespace given to a cluster-scoped object; so do we.
    object["metadata"].erase("namespace");
    namespace_name.clear();
  }

  if (kind_name == "Secret" && !applyStringData(object, display)) return;

  if (const auto* existing = into_.objects.find(kind_name, namespace_name, object_name)) {
    return report(display, "",
                  "duplicate of " + existing->displayName() + " from " + existing->source);
  }
  KubeObject entry;
  entry.kind = kind_name;
  entry.api_version = info->api_version;
  entry.ns = namespace_name;
  entry.name = object_name;
  entry.source = source_;
  entry.body = std::move(object);
  into_.objects.upsert(std::move(entry));
}

// The API server folds a Secret's write-only `stringData` into base64 `data` (stringData wins on
// conflicts) and never returns stringData; doing the same keeps manifests and cluster objects
// identical for the translator.
bool DocumentParser::applyStringData(json& secret, const std::string& display) {
  auto string_data = secret.find("stringData");
  if (string_data == secret.end()) return true;
  if (string_data->is_null()) {
    secret.erase(string_data);
    return true;
  }
  if (!string_data->is_object()) {
    report(display, "stringData", "stringData must be a mapping, found " + describe(*string_data));
    return false;
  }
  auto& data = secret["data"];
  if (data.is_null()) data = json::object();
  if (!data.is_object()) {
    report(display, "data", "data must be a mapping, found " + describe(data));
    return false;
  }
  for (const auto& [key, value] : string_data->items()) {
    if (!value.is_string()) {
      report(display, "stringData." + key, "must be a string, found " + describe(value));
      return false;
    }
    data[key] = base64Encode(value.get<std::string>());
  }
  secret.erase("stringData");
  return true;
}

// ---- Reading files and directories ----

bool readFile(const fs::path& path, std::string& out, std::string& error) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    error = std::error_code(errno, std::generic_category()).message();
    return false;
  }
  char buffer[64 * 1024];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) out.append(buffer, n);
  if (std::ferror(file.get())) {
    error = std::error_code(errno, std::generic_category()).message();
    return false;
  }
  return true;
}

class Loader {
 public:
  explicit Loader(LoadResult& result) : result_(result) {}

  void loadPath(const fs::path& path) {
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (ec) return reportPath(path, "cannot read: " + ec.message());
    if (!fs::is_directory(status)) return loadFile(path);
    std::vector<fs::path> files;
    collect(path, files);
    std::sort(files.begin(), files.end());
    for (const auto& file : files) loadFile(file);
  }

 private:
  // Walks `dir` depth-first, following directory symlinks; each real directory is entered once,
  // which both breaks symlink loops and avoids loading an aliased tree twice.
  void collect(const fs::path& dir, std::vector<fs::path>& files) {
    std::error_code ec;
    auto real = fs::canonical(dir, ec);
    if (!ec && !visited_dirs_.insert(real).second) return;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const auto& path = it->path();
      if (isHidden(path)) continue;
      std::error_code status_ec;
      auto status = it->status(status_ec);  // follows symlinks
      if (status_ec) {
        // A dangling symlink only matters if it looks like a manifest.
        if (isManifestFile(path)) reportPath(path, "cannot read: " + status_ec.message());
        continue;
      }
      if (fs::is_directory(status)) {
        collect(path, files);
      } else if (isManifestFile(path) && fs::is_regular_file(status)) {
        files.push_back(path);
      }
    }
    if (ec) reportPath(dir, "cannot read directory: " + ec.message());
  }

  void loadFile(const fs::path& file) {
    // The same file named twice (a directory and a file in it, or two symlinks) loads once
    // instead of reporting every object as a duplicate of itself.
    std::error_code ec;
    auto real = fs::canonical(file, ec);
    if (!ec && !loaded_files_.insert(real).second) return;
    std::string text, error;
    if (!readFile(file, text, error)) return reportPath(file, "cannot read: " + error);
    parseManifestText(text, file.string(), result_);
  }

  void reportPath(const fs::path& path, const std::string& message) {
    result_.diagnostics.push_back({path.string(), "", "", message});
  }

  LoadResult& result_;
  std::set<fs::path> visited_dirs_;
  std::set<fs::path> loaded_files_;
};

}  // namespace

void parseManifestText(const std::string& text, const std::string& source, LoadResult& into) {
  DocumentParser parser(source, into);
  // JSON is YAML too, but nlohmann parses a large JSON file many times faster than yaml-cpp.
  if (lowercaseExtension(source) == ".json") {
    parser.parseJson(text);
  } else {
    parser.parseYaml(text);
  }
}

LoadResult loadManifests(const std::filesystem::path& path) {
  LoadResult result;
  Loader(result).loadPath(path);
  return result;
}

LoadResult loadManifests(const std::vector<std::filesystem::path>& paths) {
  LoadResult result;
  Loader loader(result);
  for (const auto& path : paths) loader.loadPath(path);
  return result;
}

}  // namespace atrium::controller::manifests

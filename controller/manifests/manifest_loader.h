#pragma once
// Reads Kubernetes manifests from files: *.yaml, *.yml, *.json under a directory, recursively,
// multi-document YAML and `kind: List`. Each object is checked for the envelope (apiVersion,
// kind, metadata.name, a supported kind with its expected apiVersion), defaulted to namespace
// "default", and put in an ObjectStore. Anything unreadable or malformed becomes a Diagnostic
// naming the file (and document/object) and is skipped; everything else still loads.
// Field-level validation of each kind is the translator's job.
#include <filesystem>
#include <string>

#include "controller/diagnostic.h"
#include "controller/store/object_store.h"

namespace atrium::controller::manifests {

struct LoadResult {
  ObjectStore objects;
  Diagnostics diagnostics;
};

// Loads every manifest under `path` (a directory, walked recursively in sorted order, or a
// single file). Files are read in lexicographic path order; when two files declare the same
// kind/namespace/name, the first one wins and the second is reported.
LoadResult loadManifests(const std::filesystem::path& path);

// Adds the objects of several paths (files or directories) into one result, as `atrium check`
// does with several arguments.
LoadResult loadManifests(const std::vector<std::filesystem::path>& paths);

// Parses one document set (YAML or JSON text) as if read from `source`; exposed for tests.
void parseManifestText(const std::string& text, const std::string& source, LoadResult& into);

}  // namespace atrium::controller::manifests

#include "controller/manifests/yaml_to_json.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <string>

namespace atrium::controller::manifests {
namespace {

using nlohmann::json;

json convert(const std::string& yaml) { return yamlToJson(YAML::Load(yaml)); }

TEST(YamlToJsonTest, PlainScalarsFollowTheCoreSchema) {
  json j = convert(R"(
null1: ~
null2: null
null3: NULL
null4:
t1: true
t2: True
t3: TRUE
f1: false
f2: False
int: 8080
negative: -12
plus: +7
leading_zero: 012
octal: 0o17
hex: 0x1F
float: 1.5
exp: 1.5e3
bare_exp: 2e2
trailing_dot: 1.
leading_dot: .5
inf: -.inf
word: hello
yes_is_not_bool: yes
version: 1.2.3
ip: 10.0.0.1
duration: 30s
)");
  for (const char* key : {"null1", "null2", "null3", "null4"}) EXPECT_TRUE(j[key].is_null()) << key;
  EXPECT_EQ(j["t1"], true);
  EXPECT_EQ(j["t2"], true);
  EXPECT_EQ(j["t3"], true);
  EXPECT_EQ(j["f1"], false);
  EXPECT_EQ(j["f2"], false);
  EXPECT_TRUE(j["int"].is_number_integer());
  EXPECT_EQ(j["int"], 8080);
  EXPECT_EQ(j["negative"], -12);
  EXPECT_EQ(j["plus"], 7);
  EXPECT_EQ(j["leading_zero"], 12);  // YAML 1.2: decimal, not octal
  EXPECT_EQ(j["octal"], 15);
  EXPECT_EQ(j["hex"], 31);
  EXPECT_TRUE(j["float"].is_number_float());
  EXPECT_DOUBLE_EQ(j["float"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["exp"].get<double>(), 1500.0);
  EXPECT_DOUBLE_EQ(j["bare_exp"].get<double>(), 200.0);
  EXPECT_DOUBLE_EQ(j["trailing_dot"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["leading_dot"].get<double>(), 0.5);
  EXPECT_TRUE(std::isinf(j["inf"].get<double>()));
  EXPECT_LT(j["inf"].get<double>(), 0);
  EXPECT_EQ(j["word"], "hello");
  EXPECT_EQ(j["yes_is_not_bool"], "yes");
  EXPECT_EQ(j["version"], "1.2.3");
  EXPECT_EQ(j["ip"], "10.0.0.1");
  EXPECT_EQ(j["duration"], "30s");
}

TEST(YamlToJsonTest, QuotedAndBlockScalarsStayStrings) {
  json j = convert(R"(
single: '8080'
double: "true"
quoted_null: "null"
quoted_empty: ""
literal: |
  80
folded: >-
  1.5
)");
  EXPECT_EQ(j["single"], "8080");
  EXPECT_EQ(j["double"], "true");
  EXPECT_EQ(j["quoted_null"], "null");
  EXPECT_EQ(j["quoted_empty"], "");
  EXPECT_EQ(j["literal"], "80\n");
  EXPECT_EQ(j["folded"], "1.5");
}

TEST(YamlToJsonTest, ExplicitTagsAreHonoured) {
  json j = convert(R"(
str: !!str 5
int: !!int "7"
float: !!float 3
bool: !!bool "true"
nil: !!null ""
custom: !Ref 42
)");
  EXPECT_EQ(j["str"], "5");
  EXPECT_EQ(j["int"], 7);
  EXPECT_TRUE(j["float"].is_number_float());
  EXPECT_DOUBLE_EQ(j["float"].get<double>(), 3.0);
  EXPECT_EQ(j["bool"], true);
  EXPECT_TRUE(j["nil"].is_null());
  EXPECT_EQ(j["custom"], "42");
  EXPECT_THROW(convert("x: !!int abc"), YamlConversionError);
}

TEST(YamlToJsonTest, IntegersOutsideInt64) {
  json j =
      convert("big: 18446744073709551615\nmin: -9223372036854775808\nhuge: 99999999999999999999");
  EXPECT_TRUE(j["big"].is_number_unsigned());
  EXPECT_EQ(j["big"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(j["min"].get<int64_t>(), INT64_MIN);
  EXPECT_TRUE(j["huge"].is_number_float());
  EXPECT_DOUBLE_EQ(j["huge"].get<double>(), 1e20);
}

TEST(YamlToJsonTest, MapsAndSequences) {
  json j = convert(R"(
80: http
true: yes
list: [1, "2", three, {a: b}]
nested: {a: {b: [x, [y]]}}
empty_map: {}
empty_list: []
)");
  EXPECT_EQ(j, json::parse(R"({
    "80": "http", "true": "yes",
    "list": [1, "2", "three", {"a": "b"}],
    "nested": {"a": {"b": ["x", ["y"]]}},
    "empty_map": {}, "empty_list": []})"));
}

TEST(YamlToJsonTest, MatchesNlohmannOnJsonInput) {
  // The same object read as YAML or as JSON must compare and print identically.
  std::string text = R"({"a": 1, "b": -2, "c": 1.5, "d": "x", "e": [true, null], "f": {"g": "1"}})";
  EXPECT_EQ(convert(text).dump(), json::parse(text).dump());
}

TEST(YamlToJsonTest, AnchorsAliasesAndMergeKeys) {
  json j = convert(R"(
base: &base {x: 1, y: 2}
other: &other {z: 3, y: 9}
copy: *base
merged:
  <<: [*base, *other]
  y: 5
)");
  EXPECT_EQ(j["copy"], json::parse(R"({"x": 1, "y": 2})"));
  // Keys written in the mapping win over merged ones; earlier merge sources win over later ones.
  EXPECT_EQ(j["merged"], json::parse(R"({"x": 1, "y": 5, "z": 3})"));
}

TEST(YamlToJsonTest, DuplicateKeyIsAnErrorWithItsLine) {
  try {
    convert("a: 1\nb: 2\na: 3\n");
    FAIL() << "expected YamlConversionError";
  } catch (const YamlConversionError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.column(), 1);
    EXPECT_NE(std::string(e.what()).find("duplicate key \"a\""), std::string::npos);
  }
}

TEST(YamlToJsonTest, CollectionKeysAreRejected) {
  EXPECT_THROW(convert("? [a, b]\n: x\n"), YamlConversionError);
}

TEST(YamlToJsonTest, AliasCyclesAndExpansionBombsAreRejected) {
  EXPECT_THROW(convert("a: &a [*a]\n"), YamlConversionError);
  // "Billion laughs": nine levels of ten aliases each would expand to 10^9 nodes.
  std::string bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", " : "") + prev;
    bomb += "]\n";
  }
  EXPECT_THROW(convert(bomb), YamlConversionError);
}

TEST(YamlToJsonTest, InvalidUtf8IsRejected) {
  EXPECT_EQ(convert("a: \"caf\xC3\xA9 \xF0\x9F\x9A\x80\"\n")["a"], "caf\u00e9 \U0001F680");
  EXPECT_THROW(convert("a: \"x\xFFy\"\n"), YamlConversionError);
  EXPECT_THROW(convert("a: x\xC3\n"), YamlConversionError);
  EXPECT_THROW(convert("\xC0\xAF: x\n"), YamlConversionError);      // overlong '/'
  EXPECT_THROW(convert("a: \xED\xA0\x80\n"), YamlConversionError);  // a UTF-16 surrogate
}

TEST(YamlToJsonTest, PlainScalarHelper) {
  EXPECT_EQ(plainScalarToJson("443"), 443);
  EXPECT_EQ(plainScalarToJson("abc"), "abc");
  EXPECT_EQ(plainScalarToJson("-"), "-");
  EXPECT_EQ(plainScalarToJson("+"), "+");
  EXPECT_EQ(plainScalarToJson("."), ".");
  EXPECT_EQ(plainScalarToJson("1e"), "1e");
  EXPECT_EQ(plainScalarToJson("0x"), "0x");
  EXPECT_EQ(plainScalarToJson("0xZZ"), "0xZZ");
  EXPECT_EQ(plainScalarToJson("inf"), "inf");
  EXPECT_TRUE(plainScalarToJson("").is_null());
}

}  // namespace
}  // namespace atrium::controller::manifests

#pragma once
// One Redis reply as an owned value, so it can outlive the parser's buffers and travel through a
// completion handler to another coroutine. RESP2 types only (what hiredis 0.14 parses).
#include <cstdint>
#include <string>
#include <vector>

namespace atrium::proxy::redis {

struct RedisReply {
  enum class Type { Nil, Status, Error, Integer, String, Array };

  Type type = Type::Nil;
  int64_t integer = 0;               // Integer
  std::string str;                   // Status, Error and String
  std::vector<RedisReply> elements;  // Array

  bool isError() const { return type == Type::Error; }
  bool isNil() const { return type == Type::Nil; }
};

}  // namespace atrium::proxy::redis

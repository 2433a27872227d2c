#pragma once
// Memory a request needs only while it is in flight: the body relay buffer and an arena that
// the request's and response's header fields are allocated from. Workers keep a free list of
// these, so an idle keep-alive connection holds none and a request allocates no header memory
// from the heap in the common case (headers under 8 KiB). Worker-thread only.
#include <array>
#include <cstddef>
#include <memory_resource>

namespace atrium::proxy::server {

struct RequestScratch {
  static constexpr size_t kBodyBuffer = 16 * 1024;
  static constexpr size_t kArenaInline = 8 * 1024;

  RequestScratch() : arena(arena_storage.data(), arena_storage.size()) {}
  RequestScratch(const RequestScratch&) = delete;
  RequestScratch& operator=(const RequestScratch&) = delete;

  std::array<char, kBodyBuffer> body;
  alignas(std::max_align_t) std::array<std::byte, kArenaInline> arena_storage;
  // Falls back to the heap for oversized headers; release() frees those blocks and rewinds.
  std::pmr::monotonic_buffer_resource arena;
};

}  // namespace atrium::proxy::server

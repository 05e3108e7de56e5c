// TraceCraft C++ — in-memory layout of a recorded span (internal).
//
// A span record is one 1 KiB block: the header below followed by a bump arena that holds the
// span's attribute entries and the bytes of every string it carries. Only the agent that owns
// the span writes to it (the LIFO rule of span scopes), so the arena takes no lock. When the
// arena is full, overflow blocks are chained and freed with the record. A finished span is
// pushed onto its trace's lock-free "ended" list; the trace is handed to the pipeline (or
// released at once when the sampler drops it) when its last open span ends.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include "tracecraft/attribute.hpp"
#include "tracecraft/ids.hpp"
#include "tracecraft/span_kind.hpp"

namespace tracecraft::detail {

struct runtime_core;
struct trace_buffer;

struct str_ref {
    const char* p = nullptr;
    std::uint32_t n = 0;
    [[nodiscard]] std::string_view view() const noexcept { return {p, n}; }
};

struct attr_entry {
    str_ref key;
    value_view value;
};

struct attr_chunk {
    static constexpr std::uint32_t capacity = 8;
    attr_chunk* next;
    std::uint32_t n;
    attr_entry e[capacity];
};

struct attr_list {
    attr_chunk* head = nullptr;
    attr_chunk* tail = nullptr;
    std::uint32_t count = 0;

    template <class F>
    void for_each(F&& f) const {
        for (const attr_chunk* c = head; c; c = c->next)
            for (std::uint32_t i = 0; i < c->n; ++i) f(c->e[i]);
    }
    /// Entries not overwritten by a later entry with the same key (last write wins), in order.
    template <class F>
    void for_each_visible(F&& f) const {
        for (const attr_chunk* c = head; c; c = c->next)
            for (std::uint32_t i = 0; i < c->n; ++i) {
                const attr_entry& e = c->e[i];
                bool shadowed = false;   // only later entries can shadow this one
                const attr_chunk* d = c;
                std::uint32_t j = i + 1;
                for (; d && !shadowed; d = d->next, j = 0)
                    for (; j < d->n; ++j)
                        if (d->e[j].key.n == e.key.n && d->e[j].key.view() == e.key.view()) {
                            shadowed = true;
                            break;
                        }
                if (!shadowed) f(e);
            }
    }
    /// The last entry with this key (last write wins), or nullptr.
    [[nodiscard]] const attr_entry* find(std::string_view key) const noexcept;
};

struct event_record {
    event_record* next = nullptr;
    str_ref name;
    std::uint64_t ticks = 0;
    attr_list attrs;
};

struct link_record {
    link_record* next = nullptr;
    span_context ctx;
    attr_list attrs;
};

struct overflow_block {
    overflow_block* next;
    std::size_t size;
};

enum span_flags : std::uint8_t {
    span_flag_remote_parent = 1,
    span_flag_local_root = 2,
    span_flag_ended = 4,
    span_flag_abandoned = 8,     ///< ended by frame destruction outside any handler
    span_flag_exception = 16,    ///< an exception (or cancellation) was recorded
    span_flag_no_inputs = 32,    ///< capture_inputs = false
    span_flag_run = 64,          ///< started by run_scope
    span_flag_usage = 128,       ///< token usage recorded (set_tokens / set_usage): enrich at trace end
};

/// memcpy for the short strings of the hot path (keys, names, ~40-byte values), inlined as
/// overlapping fixed-size moves: a libc memmove call per attribute string cost more than the copy.
inline void copy_short(char* d, const char* s, std::size_t n) noexcept {
    // d and s never overlap (like memcpy); each range is covered by two overlapping moves
    if (n > 64) {
        std::memcpy(d, s, n);
    } else if (n > 32) {
        std::memcpy(d, s, 32);
        std::memcpy(d + n - 32, s + n - 32, 32);
    } else if (n >= 16) {
        std::memcpy(d, s, 16);
        std::memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        std::memcpy(d, s, 8);
        std::memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        std::memcpy(d, s, 4);
        std::memcpy(d + n - 4, s + n - 4, 4);
    } else {
        for (std::size_t i = 0; i < n; ++i) d[i] = s[i];
    }
}

struct span_record {
    static constexpr std::size_t block_size = 1024;

    span_record* next_ended = nullptr;
    span_record* next_unwound = nullptr;
    trace_buffer* trace = nullptr;
    span_id id;
    span_id parent;
    std::uint64_t start_ticks = 0;
    std::uint64_t end_ticks = 0;
    str_ref name;
    str_ref status_message;
    span_kind kind = span_kind::workflow;
    status_code status = status_code::unset;
    std::uint8_t flags = 0;
    otel_span_kind otel_kind = otel_span_kind::automatic;   // (fills the padding byte before depth)
    std::uint16_t depth = 0;
    std::uint32_t dropped_attributes = 0;
    std::uint32_t max_attributes = 128;      ///< copied from the runtime's config
    std::uint32_t max_value_length = 0;
    std::uint32_t n_events = 0;
    std::uint32_t n_links = 0;
    attr_list attrs;
    attr_list inputs;
    attr_list outputs;
    event_record* events_head = nullptr;
    event_record* events_tail = nullptr;
    link_record* links_head = nullptr;
    link_record* links_tail = nullptr;
    const str_ref* excluded_inputs = nullptr;   ///< exclude_inputs names (in the arena)
    std::uint32_t n_excluded = 0;

    /// Storage of the first attribute chunk (most spans need no other): set up by create(),
    /// raw so that default-initialising a record writes nothing here.
    alignas(attr_chunk) unsigned char first_attrs[sizeof(attr_chunk)];

    // bump arena
    char* cur = nullptr;
    char* end = nullptr;
    overflow_block* overflow = nullptr;

    /// Allocates a fresh record (1 KiB block) with its arena set up. Inline, so that the
    /// caller's own field writes replace the initialisers' stores.
    static span_record* create();
    /// Frees the record and its overflow blocks.
    static void destroy(span_record* r) noexcept;

    // Hot path, inline: bump allocation in the record's arena.
    void* alloc(std::size_t n, std::size_t align = alignof(std::max_align_t)) {
        auto p = reinterpret_cast<std::uintptr_t>(cur);
        p = (p + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
        if (p + n <= reinterpret_cast<std::uintptr_t>(end)) [[likely]] {
            cur = reinterpret_cast<char*>(p + n);
            return reinterpret_cast<void*>(p);
        }
        return alloc_overflow(n, align);
    }
    str_ref copy(std::string_view s) {
        if (s.empty()) return {};
        auto* p = static_cast<char*>(alloc(s.size(), 1));
        copy_short(p, s.data(), s.size());
        return {p, static_cast<std::uint32_t>(s.size())};
    }
    attr_entry* append(attr_list& list) {
        attr_chunk* c = list.tail;
        if (!c || c->n == attr_chunk::capacity) [[unlikely]]
            c = new_chunk(list);
        ++list.count;
        return &c->e[c->n++];
    }

private:
    static void* alloc_block_();   ///< from this thread's block cache, else operator new
    void* alloc_overflow(std::size_t n, std::size_t align);
    attr_chunk* new_chunk(attr_list& list);
};

inline span_record* span_record::create() {
    void* block = alloc_block_();
    // default-initialisation (every member has an initialiser): GCC value-initialises a
    // span_record() with `rep stos`, whose start-up cost was ~8 ns of every span
    auto* r = new (block) span_record;
    auto* first = reinterpret_cast<attr_chunk*>(r->first_attrs);
    first->next = nullptr;
    first->n = 0;
    r->attrs.head = first;
    r->attrs.tail = first;
    r->cur = static_cast<char*>(block) + sizeof(span_record);
    r->end = static_cast<char*>(block) + block_size;
    return r;
}

/// Recycled span blocks (see lib/record/span_record.cpp): this thread's cache and the shared pool.
struct span_block_stats_t {
    std::uint32_t cached = 0, max_cached = 0;   ///< max_cached == 0: recycling is off (sanitizer builds)
    std::size_t pooled = 0;
};
span_block_stats_t span_block_stats() noexcept;

/// Appends an attribute outside the per-span limit (library-derived values, e.g. enrichment).
void append_attribute(span_record* r, std::string_view key, const value_view& v);
/// Appends a link to `ctx` (no attributes yet) and returns it.
link_record* append_link(span_record* r, const span_context& ctx);

} // namespace tracecraft::detail

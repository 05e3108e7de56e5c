// Span records' memory: the block pool (per-thread caches and a shared pool of bundles) and
// each span's arena (overflow blocks, attribute chunks).
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "tracecraft/detail/span_record.hpp"
namespace tracecraft {
namespace detail {

// ---------------------------------------------------------------- span_record

namespace {
// Span blocks are recycled, not returned to malloc: glibc keeps only 7 chunks of a size in its
// tcache, and an export batch frees hundreds of 1 KiB blocks at once; the rest went through
// the locked bins and their consolidation (~4 us of every request of the llm_gateway example).
//
// Each thread keeps a cache of the blocks it freed, reused hot by its next spans. Blocks also
// flow between threads -- recorded on the user's threads, freed after export on the strand's --
// so a cache that grows past max_cached_blocks hands a bundle of 64 to a shared pool, and a
// thread whose cache is empty takes a bundle from it: one mutex acquisition per 64 blocks,
// never per span. At most 1 MiB per thread plus 4 MiB in the pool stay allocated; beyond
// that, blocks go back to operator delete. Disabled under the sanitizers so use-after-free
// stays visible.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::uint32_t max_cached_blocks = 0;
#else
constexpr std::uint32_t max_cached_blocks = 1024;
#endif
constexpr std::uint32_t bundle_blocks = 64;
constexpr std::size_t max_pool_bundles = 64;

void* next_of(void* b) noexcept { return *static_cast<void**>(b); }
void set_next(void* b, void* next) noexcept { *static_cast<void**>(b) = next; }

struct block_pool {
    std::mutex m;
    std::vector<void*> bundles;   ///< each a list of bundle_blocks blocks
    block_pool() { bundles.reserve(max_pool_bundles); }   // push_back below never allocates
};
block_pool& pool() {
    static auto* p = new block_pool;   // never destroyed: threads may return blocks during exit
    return *p;
}

struct block_cache {
    void* head = nullptr;
    std::uint32_t n = 0;
    ~block_cache() {
        while (head) {
            void* next = next_of(head);
            ::operator delete(head);
            head = next;
        }
    }
};
thread_local block_cache t_blocks;

[[gnu::noinline]] void* alloc_block_slow(block_cache& c) {
    if (max_cached_blocks > 0) {
        block_pool& p = pool();
        std::unique_lock lk(p.m);
        if (!p.bundles.empty()) {
            void* bundle = p.bundles.back();
            p.bundles.pop_back();
            lk.unlock();
            c.head = next_of(bundle);
            c.n = bundle_blocks - 1;
            return bundle;
        }
    }
    return ::operator new(span_record::block_size);
}

[[gnu::noinline]] void free_block_slow(block_cache& c, void* b) noexcept {
    if (max_cached_blocks == 0) {
        ::operator delete(b);
        return;
    }
    // detach a bundle of the most recently freed blocks (b and the cache's head)
    set_next(b, c.head);
    void* last = b;
    for (std::uint32_t i = 1; i < bundle_blocks; ++i) last = next_of(last);
    c.head = next_of(last);
    c.n -= bundle_blocks - 1;
    set_next(last, nullptr);
    block_pool& p = pool();
    {
        std::lock_guard lk(p.m);
        if (p.bundles.size() < max_pool_bundles) {
            p.bundles.push_back(b);
            return;
        }
    }
    while (b) {
        void* next = next_of(b);
        ::operator delete(b);
        b = next;
    }
}

void* alloc_block() {
    block_cache& c = t_blocks;
    if (c.head) [[likely]] {
        void* b = c.head;
        c.head = next_of(b);
        --c.n;
        return b;
    }
    return alloc_block_slow(c);
}

void free_block(void* b) noexcept {
    block_cache& c = t_blocks;
    if (c.n < max_cached_blocks) [[likely]] {
        set_next(b, c.head);
        c.head = b;
        ++c.n;
        return;
    }
    free_block_slow(c, b);
}
} // namespace

void* span_record::alloc_block_() { return alloc_block(); }

span_block_stats_t span_block_stats() noexcept {
    span_block_stats_t r;
    r.cached = t_blocks.n;
    r.max_cached = max_cached_blocks;
    block_pool& p = pool();
    std::lock_guard lk(p.m);
    r.pooled = p.bundles.size() * bundle_blocks;
    return r;
}

void span_record::destroy(span_record* r) noexcept {
    overflow_block* o = r->overflow;
    while (o) {
        overflow_block* next = o->next;
        if (o->size == block_size - sizeof(overflow_block))
            free_block(o);   // a cached block (see alloc_overflow)
        else
            ::operator delete(o);
        o = next;
    }
    r->~span_record();
    free_block(r);
}

void* span_record::alloc_overflow(std::size_t n, std::size_t align) {
    // Most spans that overflow need a few hundred bytes more (enrichment, a redacted copy):
    // another block from this thread's cache. Larger needs get a heap block of their size
    // (at least 4 KiB): glibc serves sizes above ~1 KiB outside its tcache, through the
    // locked bins and their consolidation, which cost more than the span itself.
    constexpr std::size_t cached_payload = block_size - sizeof(overflow_block);
    overflow_block* o;
    std::size_t payload;
    if (n + align <= cached_payload) {
        o = static_cast<overflow_block*>(alloc_block());
        payload = cached_payload;
    } else {
        payload = std::max<std::size_t>(n + align, 4 * block_size);   // > cached_payload
        o = static_cast<overflow_block*>(::operator new(sizeof(overflow_block) + payload));
    }
    o->next = overflow;
    o->size = payload;
    overflow = o;
    cur = reinterpret_cast<char*>(o + 1);
    end = cur + payload;
    return alloc(n, align);
}

attr_chunk* span_record::new_chunk(attr_list& list) {
    auto* nc = static_cast<attr_chunk*>(alloc(sizeof(attr_chunk), alignof(attr_chunk)));
    nc->next = nullptr;
    nc->n = 0;
    if (list.tail)
        list.tail->next = nc;
    else
        list.head = nc;
    list.tail = nc;
    return nc;
}

const attr_entry* attr_list::find(std::string_view key) const noexcept {
    const attr_entry* found = nullptr;
    for_each([&](const attr_entry& e) {
        if (e.key.view() == key) found = &e;
    });
    return found;
}
} // namespace detail
} // namespace tracecraft

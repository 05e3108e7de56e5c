// Span records, trace buffers, read views and batches.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "runtime_core.hpp"
#include "tracecraft/detail/clock.hpp"
#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/exporter.hpp"
#include "tracecraft/span_data.hpp"

namespace tracecraft {
namespace detail {

// ---------------------------------------------------------------- span_record

namespace {
// Span blocks are recycled, not returned to malloc: glibc keeps only 7 chunks of a size in its
// tcache, and an export batch frees hundreds of 1 KiB blocks at once; the rest went through
// the locked bins and their consolidation (~4 us of every gateway request in W5).
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

// ---------------------------------------------------------------- trace_buffer

trace_buffer* trace_create(runtime_core* rt, const trace_id& id, span_record* root) {
    auto* t = new (root->alloc(sizeof(trace_buffer), alignof(trace_buffer))) trace_buffer();
    t->id = id;
    t->rt = rt;
    t->root = root;
    core_add_ref(rt);
    return t;
}

void trace_close(trace_buffer* t) noexcept {
    if (t->open.fetch_sub(1, std::memory_order_acq_rel) == 1) t->rt->on_trace_complete(t);
}

void trace_destroy(trace_buffer* t) noexcept {
    span_record* const holder = t->root;   // the buffer lives in the root's arena: free it last
    span_record* s = t->ended.load(std::memory_order_acquire);
    while (s) {
        span_record* next = s->next_ended;
        if (s != holder) span_record::destroy(s);
        s = next;
    }
    runtime_core* rt = t->rt;
    t->~trace_buffer();
    span_record::destroy(holder);
    core_release(rt);
}

} // namespace detail

// ---------------------------------------------------------------- trace_ref, span_batch

namespace detail {
trace_ref::trace_ref(const trace_ref& o) noexcept : t_(o.t_) {
    if (t_) trace_add_ref(t_);
}
trace_ref::~trace_ref() {
    if (t_) trace_release(t_);
}
} // namespace detail

span_batch::span_batch(std::vector<detail::trace_ref> traces) {
    for (const auto& t : traces) spans_ += t.get()->span_count;
    traces_ = std::make_shared<const std::vector<detail::trace_ref>>(std::move(traces));
}

const std::vector<detail::trace_ref>& span_batch::traces() const noexcept {
    static const std::vector<detail::trace_ref> none;
    return traces_ ? *traces_ : none;
}

span_batch span_batch::merge(const std::vector<span_batch>& parts) {
    std::vector<detail::trace_ref> all;
    std::size_t n = 0;
    for (const auto& p : parts) n += p.trace_count();
    all.reserve(n);
    for (const auto& p : parts)
        for (const auto& t : p.traces()) all.push_back(t);
    return span_batch(std::move(all));
}

std::vector<span_batch> span_batch::split(std::size_t max_spans) const {
    std::vector<span_batch> out;
    if (max_spans == 0 || spans_ <= max_spans) {
        if (!empty()) out.push_back(*this);
        return out;
    }
    std::vector<detail::trace_ref> cur;
    std::size_t cur_spans = 0;
    for (const auto& t : traces()) {
        const std::size_t n = t.get()->span_count;
        if (!cur.empty() && cur_spans + n > max_spans) {
            out.emplace_back(std::move(cur));
            cur = {};
            cur_spans = 0;
        }
        cur.push_back(t);
        cur_spans += n;
    }
    if (!cur.empty()) out.emplace_back(std::move(cur));
    return out;
}

// ---------------------------------------------------------------- views

std::size_t attribute_range::raw_count() const noexcept { return list_ ? list_->count : 0; }
value_view attribute_range::find(std::string_view key) const noexcept {
    if (!list_) return {};
    const detail::attr_entry* e = list_->find(key);
    return e ? e->value : value_view{};
}

std::string_view event_view::name() const noexcept { return e_->name.view(); }
std::int64_t event_view::time_unix_ns() const noexcept { return detail::ticks_to_unix_ns(e_->ticks); }
attribute_range event_view::attributes() const noexcept { return attribute_range(&e_->attrs); }
const span_context& link_view::context() const noexcept { return l_->ctx; }
attribute_range link_view::attributes() const noexcept { return attribute_range(&l_->attrs); }

trace_id span_view::trace() const noexcept { return t_->id; }
span_id span_view::id() const noexcept { return r_->id; }
span_id span_view::parent_id() const noexcept { return r_->parent; }
bool span_view::has_remote_parent() const noexcept { return (r_->flags & detail::span_flag_remote_parent) != 0; }
bool span_view::is_local_root() const noexcept { return (r_->flags & detail::span_flag_local_root) != 0; }
bool span_view::is_abandoned() const noexcept { return (r_->flags & detail::span_flag_abandoned) != 0; }
std::string_view span_view::name() const noexcept { return r_->name.view(); }
span_kind span_view::kind() const noexcept { return r_->kind; }
status_code span_view::status() const noexcept { return r_->status; }
std::string_view span_view::status_message() const noexcept { return r_->status_message.view(); }
std::int64_t span_view::start_unix_ns() const noexcept { return detail::ticks_to_unix_ns(r_->start_ticks); }
std::int64_t span_view::end_unix_ns() const noexcept { return start_unix_ns() + duration_ns(); }
std::int64_t span_view::duration_ns() const noexcept {
    return detail::tick_delta_to_ns(static_cast<std::int64_t>(r_->end_ticks - r_->start_ticks));
}
std::uint32_t span_view::depth() const noexcept { return r_->depth; }
std::uint32_t span_view::dropped_attributes() const noexcept { return r_->dropped_attributes; }
attribute_range span_view::attributes() const noexcept { return attribute_range(&r_->attrs); }
attribute_range span_view::inputs() const noexcept { return attribute_range(&r_->inputs); }
attribute_range span_view::outputs() const noexcept { return attribute_range(&r_->outputs); }
std::uint32_t span_view::event_count() const noexcept { return r_->n_events; }
std::uint32_t span_view::link_count() const noexcept { return r_->n_links; }

trace_id trace_view::id() const noexcept { return t_->id; }
std::string_view trace_view::tracestate() const noexcept { return t_->tracestate; }
bool trace_view::has_root() const noexcept { return t_->root != nullptr; }
span_view trace_view::root() const noexcept { return span_view(t_->root, t_); }
std::size_t trace_view::span_count() const noexcept { return t_->span_count; }

namespace {
std::vector<std::pair<std::string, attribute_value>> copy_attrs(const attribute_range& r) {
    std::vector<std::pair<std::string, attribute_value>> out;
    r.for_each([&](std::string_view k, const value_view& v) { out.emplace_back(std::string(k), v.to_value()); });
    return out;
}
const attribute_value& find_in(const std::vector<std::pair<std::string, attribute_value>>& v, std::string_view k) {
    static const attribute_value none;
    for (const auto& [key, val] : v)
        if (key == k) return val;
    return none;
}
} // namespace

const attribute_value& span_data::attribute(std::string_view key) const { return find_in(attributes, key); }
const attribute_value& span_data::input(std::string_view key) const { return find_in(inputs, key); }
const attribute_value& span_data::output(std::string_view key) const { return find_in(outputs, key); }

span_data to_span_data(const span_view& v) {
    span_data d;
    d.trace = v.trace();
    d.id = v.id();
    d.parent_id = v.parent_id();
    d.remote_parent = v.has_remote_parent();
    d.local_root = v.is_local_root();
    d.abandoned = v.is_abandoned();
    d.name = std::string(v.name());
    d.kind = v.kind();
    d.status = v.status();
    d.status_message = std::string(v.status_message());
    d.start_unix_ns = v.start_unix_ns();
    d.duration_ns = v.duration_ns();
    d.end_unix_ns = v.end_unix_ns();
    d.depth = v.depth();
    d.attributes = copy_attrs(v.attributes());
    d.inputs = copy_attrs(v.inputs());
    d.outputs = copy_attrs(v.outputs());
    v.for_each_event([&](const event_view& e) {
        d.events.push_back(event_data{std::string(e.name()), e.time_unix_ns(), copy_attrs(e.attributes())});
    });
    v.for_each_link([&](const link_view& l) { d.links.push_back(link_data{l.context(), copy_attrs(l.attributes())}); });
    return d;
}

} // namespace tracecraft

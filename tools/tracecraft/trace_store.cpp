#include "trace_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>

#include <boost/json.hpp>

namespace tctool {
namespace {

namespace json = boost::json;

/// Migration N brings a database from schema N-1 to N. Never edit a released one: add a new one.
constexpr const char* migrations[] = {
    // 1: the tables and the indexes for the viewer's and query's filters
    R"sql(
CREATE TABLE traces(
  trace_id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', service TEXT NOT NULL DEFAULT '',
  start_ns INTEGER NOT NULL DEFAULT 0, end_ns INTEGER NOT NULL DEFAULT 0, duration_ns INTEGER NOT NULL DEFAULT 0,
  span_count INTEGER NOT NULL DEFAULT 0, error_count INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
  total_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0,
  models TEXT NOT NULL DEFAULT '', session_id TEXT, user_id TEXT, tags TEXT NOT NULL DEFAULT '[]',
  root_span_id TEXT NOT NULL DEFAULT '');
CREATE TABLE spans(
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT NOT NULL DEFAULT '', name TEXT NOT NULL,
  kind TEXT NOT NULL, otel_kind INTEGER NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL,
  start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, status_code INTEGER NOT NULL, status_message TEXT NOT NULL,
  model TEXT NOT NULL, input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL, resource TEXT NOT NULL,
  PRIMARY KEY(trace_id, span_id)) WITHOUT ROWID;
CREATE TABLE attributes(
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY(trace_id, span_id, key)) WITHOUT ROWID;
CREATE TABLE events(
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, idx INTEGER NOT NULL, time_ns INTEGER NOT NULL,
  name TEXT NOT NULL, attributes TEXT NOT NULL, PRIMARY KEY(trace_id, span_id, idx)) WITHOUT ROWID;
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES('version', 0);
CREATE INDEX traces_by_time ON traces(start_ns);
CREATE INDEX traces_by_name ON traces(name);
CREATE INDEX traces_by_service ON traces(service);
CREATE INDEX traces_by_errors ON traces(error_count) WHERE error_count > 0;
CREATE INDEX spans_by_model ON spans(model, trace_id) WHERE model <> '';
)sql",
    // 2: when a trace was last received, and sessions (the viewer groups a conversation)
    R"sql(
ALTER TABLE traces ADD COLUMN received_ns INTEGER NOT NULL DEFAULT 0;
CREATE INDEX traces_by_session ON traces(session_id) WHERE session_id IS NOT NULL;
)sql",
};
static_assert(std::size(migrations) == trace_store::schema_version);

class statement {
public:
    statement(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
            throw input_error(std::string("SQLite: ") + sqlite3_errmsg(db));
    }
    ~statement() { sqlite3_finalize(s_); }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    statement& bind(int i, const std::string& v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    statement& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    statement& bind(int i, double v) {
        sqlite3_bind_double(s_, i, v);
        return *this;
    }
    template <class T>
    statement& bind(int i, const std::optional<T>& v) {
        if (v) return bind(i, *v);
        sqlite3_bind_null(s_, i);
        return *this;
    }
    /// True while there is a row.
    bool step() {
        const int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw input_error(std::string("SQLite: ") + sqlite3_errmsg(db_));
    }
    void run() {
        step();
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    std::string text(int c) const {
        const auto* p = sqlite3_column_text(s_, c);
        return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, c))) : std::string();
    }
    std::int64_t integer(int c) const { return sqlite3_column_int64(s_, c); }
    double real(int c) const { return sqlite3_column_double(s_, c); }
    bool null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }

private:
    sqlite3* db_;
    sqlite3_stmt* s_ = nullptr;
};

/// Concatenation without operator+ chains (GCC 12 reports false -Warray-bounds on those).
std::string concat(std::initializer_list<std::string_view> parts) {
    std::string s;
    for (std::string_view p : parts) s.append(p);
    return s;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr const char* summary_columns =
    "trace_id, name, service, root_span_id, start_ns, end_ns, span_count, error_count, input_tokens, output_tokens, "
    "cost_usd, models, session_id, user_id, tags";

trace_summary read_summary(const statement& s) {
    trace_summary t;
    t.trace_id = s.text(0);
    t.name = s.text(1);
    t.service = s.text(2);
    t.root_span_id = s.text(3);
    t.start_ns = s.integer(4);
    t.end_ns = s.integer(5);
    t.span_count = s.integer(6);
    t.error_count = s.integer(7);
    t.input_tokens = s.integer(8);
    t.output_tokens = s.integer(9);
    t.cost_usd = s.real(10);
    t.models = s.text(11);
    t.session_id = s.text(12);
    t.user_id = s.text(13);
    t.tags_json = s.text(14);
    return t;
}

} // namespace

trace_store::trace_store(const std::string& path, mode m) : path_(path) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (m == mode::create) flags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw input_error("cannot open database '" + path + "': " + why);
    }
    try {
        sqlite3_busy_timeout(db_, 5000);
        exec("PRAGMA foreign_keys=ON");
        if (path != ":memory:") exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=NORMAL");
        migrate();
    } catch (const input_error& e) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw input_error("database '" + path + "': " + e.what());
    }
}

trace_store::~trace_store() { sqlite3_close(db_); }

void trace_store::exec(const char* sql) const {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string why = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw input_error("SQLite: " + why);
    }
}

void trace_store::set_busy_timeout(std::chrono::milliseconds t) { sqlite3_busy_timeout(db_, static_cast<int>(t.count())); }

int trace_store::user_version() const {
    statement s(db_, "PRAGMA user_version");
    return s.step() ? static_cast<int>(s.integer(0)) : 0;
}

void trace_store::migrate() {
    const int have = user_version();
    if (have > schema_version)
        throw input_error("schema version " + std::to_string(have) + " is newer than this tracecraft (" +
                          std::to_string(schema_version) + "): upgrade tracecraft");
    if (have > 0) {   // a database of ours? (a foreign SQLite file would lack our tables)
        statement s(db_, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('traces','spans','attributes','events')");
        if (!s.step() || s.integer(0) != 4) throw input_error("not a tracecraft trace database");
    } else {
        statement s(db_, "SELECT count(*) FROM sqlite_master");
        if (s.step() && s.integer(0) != 0) throw input_error("not a tracecraft trace database (it has other tables)");
    }
    for (int v = have; v < schema_version; ++v) {
        exec("BEGIN IMMEDIATE");
        try {
            exec(migrations[v]);
            exec(("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
            exec("COMMIT");
        } catch (...) {
            exec("ROLLBACK");
            throw;
        }
    }
}

void trace_store::create_at_version(const std::string& path, int version) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw input_error("cannot create " + path);
    for (int v = 0; v < version; ++v) {
        sqlite3_exec(db, migrations[v], nullptr, nullptr, nullptr);
        sqlite3_exec(db, ("PRAGMA user_version=" + std::to_string(v + 1)).c_str(), nullptr, nullptr, nullptr);
    }
    sqlite3_close(db);
}

trace_store::store_result trace_store::store(const std::vector<span_record>& spans) {
    store_result r;
    if (spans.empty()) return r;
    exec("BEGIN IMMEDIATE");
    try {
        statement del_attr(db_, "DELETE FROM attributes WHERE trace_id=?1 AND span_id=?2");
        statement del_ev(db_, "DELETE FROM events WHERE trace_id=?1 AND span_id=?2");
        statement put_span(db_,
                           "INSERT OR REPLACE INTO spans(trace_id, span_id, parent_id, name, kind, otel_kind, service, scope, start_ns, "
                           "end_ns, status_code, status_message, model, input_tokens, output_tokens, cost_usd, resource) "
                           "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)");
        statement put_attr(db_, "INSERT OR REPLACE INTO attributes VALUES(?1,?2,?3,?4)");
        statement put_ev(db_, "INSERT OR REPLACE INTO events VALUES(?1,?2,?3,?4,?5,?6)");
        std::set<std::string> touched;
        for (const span_record& s : spans) {
            del_attr.bind(1, s.trace_id).bind(2, s.span_id).run();
            del_ev.bind(1, s.trace_id).bind(2, s.span_id).run();
            put_span.bind(1, s.trace_id).bind(2, s.span_id).bind(3, s.parent_id).bind(4, s.name).bind(5, s.kind)
                .bind(6, std::int64_t{s.otel_kind}).bind(7, s.service).bind(8, s.scope).bind(9, s.start_ns).bind(10, s.end_ns)
                .bind(11, std::int64_t{s.status_code}).bind(12, s.status_message).bind(13, s.model).bind(14, s.input_tokens)
                .bind(15, s.output_tokens).bind(16, s.cost_usd).bind(17, json::serialize(s.resource));
            put_span.run();
            for (const auto& kv : s.attributes)
                put_attr.bind(1, s.trace_id).bind(2, s.span_id).bind(3, std::string(kv.key())).bind(4, json::serialize(kv.value())).run();
            std::int64_t idx = 0;
            for (const span_event& e : s.events)
                put_ev.bind(1, s.trace_id).bind(2, s.span_id).bind(3, idx++).bind(4, e.time_ns).bind(5, e.name)
                    .bind(6, json::serialize(e.attributes)).run();
            touched.insert(s.trace_id);
            ++r.spans;
        }
        for (const std::string& t : touched) refresh_summary(t);
        exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
        exec("COMMIT");
        r.traces = touched.size();
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
    return r;
}

void trace_store::refresh_summary(const std::string& trace_id) {
    struct brief {
        std::string id, parent, name, service, model;
        std::int64_t start, end;
        bool error;
    };
    std::vector<brief> spans;
    trace_summary t;
    t.trace_id = trace_id;
    {
        statement s(db_,
                    "SELECT span_id, parent_id, name, service, model, start_ns, end_ns, status_code, input_tokens, output_tokens, "
                    "cost_usd FROM spans WHERE trace_id=?1 ORDER BY start_ns, span_id");
        s.bind(1, trace_id);
        while (s.step()) {
            spans.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.integer(5), s.integer(6), s.integer(7) == 2});
            t.input_tokens += s.integer(8);
            t.output_tokens += s.integer(9);
            t.cost_usd += s.real(10);
        }
    }
    if (spans.empty()) return;
    std::set<std::string> ids, models;
    for (const brief& b : spans) ids.insert(b.id);
    const brief* root = nullptr;   // the earliest span without a parent, else the earliest orphan
    for (const brief& b : spans)
        if (b.parent.empty()) {
            root = &b;
            break;
        }
    if (!root)
        for (const brief& b : spans)
            if (!ids.count(b.parent)) {
                root = &b;
                break;
            }
    if (!root) root = &spans.front();
    t.start_ns = spans.front().start;
    t.end_ns = t.start_ns;
    for (const brief& b : spans) {
        t.start_ns = std::min(t.start_ns, b.start);
        t.end_ns = std::max(t.end_ns, b.end);
        t.error_count += b.error;
        if (!b.model.empty()) models.insert(b.model);
    }
    for (const std::string& m : models) t.models += (t.models.empty() ? "" : ",") + m;
    t.span_count = static_cast<std::int64_t>(spans.size());
    t.name = root->name;
    t.service = root->service;
    t.root_span_id = root->id;
    t.tags_json = "[]";
    std::optional<std::string> session, user;
    {
        statement s(db_,
                    "SELECT key, value FROM attributes WHERE trace_id=?1 AND span_id=?2 AND key IN "
                    "('session.id','gen_ai.conversation.id','user.id','enduser.id','tag.tags')");
        s.bind(1, trace_id).bind(2, root->id);
        while (s.step()) {
            const std::string key = s.text(0);
            boost::system::error_code ec;
            const json::value v = json::parse(s.text(1), ec);
            if (ec) continue;
            if (key == "tag.tags" && v.is_array()) t.tags_json = json::serialize(v);
            else if (!v.is_string()) continue;
            else if (key == "session.id" || (key == "gen_ai.conversation.id" && !session)) session = std::string(v.get_string());
            else if (key == "user.id" || (key == "enduser.id" && !user)) user = std::string(v.get_string());
        }
    }
    statement put(db_,
                  "INSERT OR REPLACE INTO traces(trace_id, name, service, start_ns, end_ns, duration_ns, span_count, error_count, "
                  "input_tokens, output_tokens, total_tokens, cost_usd, models, session_id, user_id, tags, root_span_id, received_ns) "
                  "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)");
    put.bind(1, t.trace_id).bind(2, t.name).bind(3, t.service).bind(4, t.start_ns).bind(5, t.end_ns).bind(6, t.duration_ns())
        .bind(7, t.span_count).bind(8, t.error_count).bind(9, t.input_tokens).bind(10, t.output_tokens).bind(11, t.total_tokens())
        .bind(12, t.cost_usd).bind(13, t.models).bind(14, session).bind(15, user).bind(16, t.tags_json).bind(17, t.root_span_id)
        .bind(18, now_ns());
    put.run();
}

std::vector<trace_summary> trace_store::list(const trace_filter& f, std::int64_t* total) const {
    std::string where = " WHERE 1";
    if (!f.name.empty()) where += " AND instr(lower(name), lower(?1)) > 0";
    if (!f.service.empty()) where += " AND service = ?2";
    if (!f.model.empty()) where += " AND EXISTS (SELECT 1 FROM spans s WHERE s.model = ?3 AND s.trace_id = traces.trace_id)";
    if (f.errors_only) where += " AND error_count > 0";
    if (f.min_duration_ms > 0) where += " AND duration_ns >= ?4";
    if (f.min_cost > 0) where += " AND cost_usd >= ?5";
    if (f.since_ns) where += " AND start_ns >= ?6";
    auto bind_all = [&](statement& s) {
        if (!f.name.empty()) s.bind(1, f.name);
        if (!f.service.empty()) s.bind(2, f.service);
        if (!f.model.empty()) s.bind(3, f.model);
        if (f.min_duration_ms > 0) s.bind(4, static_cast<std::int64_t>(f.min_duration_ms * 1e6));
        if (f.min_cost > 0) s.bind(5, f.min_cost);
        if (f.since_ns) s.bind(6, *f.since_ns);
    };
    if (total) {
        statement c(db_, concat({"SELECT count(*) FROM traces", where}).c_str());
        bind_all(c);
        *total = c.step() ? c.integer(0) : 0;
    }
    statement s(db_, concat({"SELECT ", summary_columns, " FROM traces", where, " ORDER BY start_ns DESC, trace_id LIMIT ?7 OFFSET ?8"}).c_str());
    bind_all(s);
    s.bind(7, f.limit < 0 ? std::int64_t{-1} : f.limit).bind(8, f.offset);
    std::vector<trace_summary> out;
    while (s.step()) out.push_back(read_summary(s));
    return out;
}

std::optional<trace_summary> trace_store::summary(const std::string& trace_id) const {
    statement s(db_, concat({"SELECT ", summary_columns, " FROM traces WHERE trace_id=?1"}).c_str());
    s.bind(1, trace_id);
    if (!s.step()) return std::nullopt;
    return read_summary(s);
}

namespace {
constexpr const char* span_columns =
    "trace_id, span_id, parent_id, name, kind, otel_kind, service, scope, start_ns, end_ns, status_code, status_message, "
    "model, input_tokens, output_tokens, cost_usd, resource";

span_record read_span(const statement& s) {
    span_record r;
    r.trace_id = s.text(0);
    r.span_id = s.text(1);
    r.parent_id = s.text(2);
    r.name = s.text(3);
    r.kind = s.text(4);
    r.otel_kind = static_cast<int>(s.integer(5));
    r.service = s.text(6);
    r.scope = s.text(7);
    r.start_ns = s.integer(8);
    r.end_ns = s.integer(9);
    r.status_code = static_cast<int>(s.integer(10));
    r.status_message = s.text(11);
    r.model = s.text(12);
    if (!s.null(13)) r.input_tokens = s.integer(13);
    if (!s.null(14)) r.output_tokens = s.integer(14);
    if (!s.null(15)) r.cost_usd = s.real(15);
    return r;
}
} // namespace

std::vector<span_record> trace_store::spans(const std::string& trace_id) const {
    std::vector<span_record> out;
    std::map<std::string, std::size_t> index;
    {
        statement s(db_, concat({"SELECT ", span_columns, " FROM spans WHERE trace_id=?1 ORDER BY start_ns, span_id"}).c_str());
        s.bind(1, trace_id);
        while (s.step()) {
            span_record r = read_span(s);
            boost::system::error_code ec;
            json::value res = json::parse(s.text(16), ec);
            if (!ec && res.is_object()) r.resource = std::move(res.get_object());
            index[r.span_id] = out.size();
            out.push_back(std::move(r));
        }
    }
    {
        statement s(db_, "SELECT span_id, key, value FROM attributes WHERE trace_id=?1 ORDER BY span_id, key");
        s.bind(1, trace_id);
        while (s.step()) {
            auto it = index.find(s.text(0));
            if (it == index.end()) continue;
            boost::system::error_code ec;
            json::value v = json::parse(s.text(2), ec);
            out[it->second].attributes[s.text(1)] = ec ? json::value(s.text(2)) : std::move(v);
        }
    }
    {
        statement s(db_, "SELECT span_id, time_ns, name, attributes FROM events WHERE trace_id=?1 ORDER BY span_id, idx");
        s.bind(1, trace_id);
        while (s.step()) {
            auto it = index.find(s.text(0));
            if (it == index.end()) continue;
            span_event e;
            e.time_ns = s.integer(1);
            e.name = s.text(2);
            boost::system::error_code ec;
            json::value v = json::parse(s.text(3), ec);
            if (!ec && v.is_object()) e.attributes = std::move(v.get_object());
            out[it->second].events.push_back(std::move(e));
        }
    }
    return out;
}

std::vector<span_record> trace_store::all_spans_brief() const {
    statement s(db_, concat({"SELECT ", span_columns, " FROM spans ORDER BY trace_id, start_ns"}).c_str());
    std::vector<span_record> out;
    while (s.step()) out.push_back(read_span(s));
    return out;
}

std::int64_t trace_store::version() const {
    statement s(db_, "SELECT value FROM meta WHERE key='version'");
    return s.step() ? s.integer(0) : 0;
}

} // namespace tctool
